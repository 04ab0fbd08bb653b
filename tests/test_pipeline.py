"""The whole path through the library, on real tesseract, with a serial executor."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import numpy as np
import pytesseract
import pytest
from pdf2image import convert_from_path
from rapidfuzz import fuzz

from chartclerk.page_worker import PageOutcome
from chartclerk.pipeline import handle_inbox_file, handle_inbox_files, ingest_files, split_documents
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.tests.scans import (
    FakePatient,
    distort,
    render_document,
    separator_sheet,
    write_pdf,
    write_png,
)
from chartclerk.workers import SerialExecutor


class CountingExecutor(SerialExecutor):
    def __init__(self) -> None:
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


def _batch(roster: list[FakePatient]) -> tuple[list[np.ndarray], dict[str, Any]]:
    """A scanned batch: a 2-page discharge summary, a separator sheet, a lab report."""
    first = render_document("discharge_summary", roster[0], seed=1, dpi=200, pages=2)
    second = render_document("lab_report", roster[1], seed=2, dpi=200)
    pages = [
        distort(first.pages[0], skew_degrees=4.0, noise=0.001, seed=1),
        distort(first.pages[1], quarter_turns_ccw=2, seed=2),
        separator_sheet("PATCHT", kind="qr", dpi=200),
        distort(second.pages[0], skew_degrees=-2.5, seed=3),
    ]
    return pages, {"first": first, "second": second}


def test_batch_is_split_typed_filed_and_searchable(
    tmp_path: Path, settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    pages, truth = _batch(roster)
    write_pdf(tmp_path / "batch.pdf", pages, dpi=200)
    executor = CountingExecutor()
    [outcome] = ingest_files([tmp_path / "batch.pdf"], settings, archive, executor)
    assert outcome.status == "archived", outcome.error
    assert len(outcome.documents) == 2 and executor.calls == 4

    docs = archive.list_documents()
    assert [d["source_pages"] for d in docs] == [[1, 2], [4, 4]]
    assert [d["type"] for d in docs] == ["discharge_summary", "lab_report"]
    assert [d["patient_mrn"] for d in docs] == [roster[0].mrn, roster[1].mrn]
    assert all(d["status"] == "filed" and d["source"] == "batch.pdf" for d in docs)
    shown = archive.get_document(docs[0]["id"], with_text=True)
    assert [p["rotation_degrees"] for p in shown["pages"]] == [0, 180]
    assert abs(shown["pages"][0]["skew_degrees"] - 4.0) < 0.3
    assert all(p["text"] and p["ocr_confidence"] > 70 for p in shown["pages"])

    assert all(p["text_source"] == "ocr" for p in shown["pages"])
    for number in (1, 2):  # upright as scanned, and turned 180 degrees by the pipeline
        _check_word_boxes(archive, docs[0]["id"], number)

    hits = archive.search("hemoglobin", patient=roster[1].mrn)
    assert hits and hits[0].document_id == docs[1]["id"] and hits[0].page == 1
    assert not archive.search("hemoglobin", patient=roster[0].mrn, doc_type="lab_report")
    assert not list(archive.tmp_dir.iterdir())  # workers' page PDFs are cleaned up

    again = ingest_files([tmp_path / "batch.pdf"], settings, archive, executor)
    assert again[0].status == "duplicate" and executor.calls == 4  # no OCR work twice
    assert len(archive.list_documents()) == 2


def _check_word_boxes(archive: Archive, doc_id: int, number: int) -> None:
    """The stored word boxes stand where their words are on the archived page: the longest
    words, cut out of the archived PDF's page at their boxes, read back as themselves."""
    words = archive.page_words(doc_id, number)
    assert len(words) > 20 and all(0 <= w.left < 1 and 0 <= w.top < 1 for w in words)
    [image] = convert_from_path(archive.pdf_path(doc_id), dpi=150, first_page=number, last_page=number)
    gray = np.asarray(image.convert("L"))
    height, width = gray.shape
    longest = sorted((w for w in words if w.text.isalpha()), key=lambda w: -len(w.text))[:3]
    for word in longest:
        pad = 4
        x0, y0 = int(word.left * width) - pad, int(word.top * height) - pad
        x1 = int((word.left + word.width) * width) + pad
        y1 = int((word.top + word.height) * height) + pad
        crop = gray[max(y0, 0) : y1, max(x0, 0) : x1]
        read = pytesseract.image_to_string(crop, config="--psm 7").strip()
        assert fuzz.ratio(read.lower(), word.text.lower()) >= 80, (read, word.text)


def test_unknown_patient_goes_to_review_and_a_bad_file_does_not_stop_the_line(
    tmp_path: Path, settings: Settings, archive: Archive
) -> None:
    stranger = FakePatient("99999991", "NOBODY", "NEMO", __import__("datetime").date(1950, 5, 5), "M")
    (tmp_path / "a-broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj<<>>\n")
    write_png(
        tmp_path / "b-referral.png", render_document("referral", stranger, seed=5, dpi=200).pages[0], dpi=200
    )
    outcomes = ingest_files([tmp_path], settings, archive, SerialExecutor())
    status = {o.path.name: o for o in outcomes}
    assert status["a-broken.pdf"].status == "failed" and "PDF" in (status["a-broken.pdf"].error or "")
    assert status["b-referral.png"].status == "archived"
    [doc] = archive.list_documents()
    assert doc["status"] == "review" and doc["patient_mrn"] is None
    assert doc["type"] == "referral"


def test_inbox_file_is_removed_only_once_archived_and_failures_are_quarantined(
    settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    settings.inbox.mkdir(parents=True)
    good = settings.inbox / "scan.png"
    write_png(good, render_document("consent_form", roster[2], seed=9, dpi=200).pages[0], dpi=200)
    original = good.read_bytes()
    outcome = handle_inbox_file(good, settings, archive, SerialExecutor())
    assert outcome.status == "archived" and not good.exists()
    [doc] = archive.list_documents()
    stored = list((settings.archive / "originals").rglob("*.png"))
    assert [p.read_bytes() for p in stored] == [original]

    bad = settings.inbox / "scan2.pdf"
    bad.write_bytes(b"%PDF-1.4 garbage")
    outcome = handle_inbox_file(bad, settings, archive, SerialExecutor())
    assert outcome.status == "failed" and not bad.exists()
    assert (settings.failed_dir / "scan2.pdf").read_bytes() == b"%PDF-1.4 garbage"
    reason = (settings.failed_dir / "scan2.pdf.error.txt").read_text(encoding="utf-8")
    assert "PDF" in reason and reason.count("\n") == 1


def test_split_documents_drops_separators_and_empty_runs() -> None:
    pages = [PageOutcome(1, separator=True), PageOutcome(2), PageOutcome(3, separator=True),
             PageOutcome(4, separator=True), PageOutcome(5), PageOutcome(6)]  # fmt: skip
    assert [[p.number for p in d] for d in split_documents(pages)] == [[2], [5, 6]]


class CrashingExecutor(Executor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(MemoryError())
        return future


def test_a_crashed_worker_fails_the_file_with_a_reason(
    tmp_path: Path, settings: Settings, archive: Archive
) -> None:
    write_png(tmp_path / "a.png", render_document("other", None, seed=1, dpi=150).pages[0], dpi=150)
    [outcome] = ingest_files([tmp_path / "a.png"], settings, archive, CrashingExecutor())
    assert outcome.status == "failed" and "MemoryError" in (outcome.error or "")
    assert archive.list_documents() == []


@pytest.mark.slow
def test_process_pool_gives_the_same_result(tmp_path: Path, settings: Settings, archive: Archive,
                                            roster: list[FakePatient]) -> None:  # fmt: skip
    from chartclerk.workers import make_pool

    pages, _ = _batch(roster)
    write_pdf(tmp_path / "batch.pdf", pages, dpi=200)
    with make_pool(2) as pool:
        [outcome] = ingest_files([tmp_path / "batch.pdf"], settings, archive, pool)
    assert outcome.status == "archived", outcome.error
    assert [d["source_pages"] for d in archive.list_documents()] == [[1, 2], [4, 4]]


def test_inbox_files_taken_together_are_each_archived_or_quarantined(
    settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    """The watcher's batch: each file's own outcome, in the order given; the good ones archived
    and removed, the bad one quarantined with its reason, a folder left alone."""
    settings.inbox.mkdir(parents=True)
    first = settings.inbox / "first.png"
    write_png(first, render_document("consent_form", roster[2], seed=9, dpi=200).pages[0], dpi=200)
    bad = settings.inbox / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 garbage")
    folder = settings.inbox / "ward"
    folder.mkdir()
    second = settings.inbox / "second.png"
    write_png(second, render_document("lab_report", roster[4], seed=3, dpi=200).pages[0], dpi=200)
    outcomes = handle_inbox_files([first, bad, folder, second], settings, archive, SerialExecutor())
    assert [o.path for o in outcomes] == [first, bad, folder, second]
    assert [o.status for o in outcomes] == ["archived", "failed", "failed", "archived"]
    assert outcomes[2].error == "a folder, not a scan file" and folder.is_dir()
    assert not first.exists() and not second.exists() and not bad.exists()
    assert (settings.failed_dir / "bad.pdf").read_bytes() == b"%PDF-1.4 garbage"
    assert sorted(d["type"] for d in archive.list_documents()) == ["consent_form", "lab_report"]
