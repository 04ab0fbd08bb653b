"""Near-duplicate scans: signatures, the LSH index, the review mark and a clerk's decision.

Pages are synthetic text (no OCR): a rescan is the same text with OCR-like damage (look-alike
and other character errors, a word dropped), a template sibling is another report of the same
lab for the same patient on another day."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chartclerk import cli
from chartclerk.settings import Settings
from chartclerk.store import Archive, make_page_pdf
from chartclerk.store.dedupe import (
    NUMBER_THRESHOLD,
    RUN_THRESHOLD,
    number_similarity,
    run_similarity,
    signature_of,
    text_similarity,
)
from chartclerk.tests.test_search import PATIENTS, add_document

ANALYTES = ("Sodium", "Potassium", "Chloride", "Bicarbonate", "Glucose", "Creatinine", "Calcium", "Albumin")


def lab_report(rng: random.Random, day: int) -> str:
    lines = [
        "Juniper Ridge Laboratories 40 Mill Road",
        "Patient SMITH, ANNA DOB 02/01/1960 MRN 000123",
        f"Accession L{rng.randint(10**7, 10**8 - 1)} Collected 03/{day:02d}/2026 07:{rng.randint(10, 59)}",
    ]
    for name in ANALYTES:
        lines.append(f"{name} {rng.uniform(1, 150):.1f} mmol/L reference range see report")
    lines.append("Director J. Okafor MD. Results reviewed and released electronically.")
    return "\n".join(lines)


def rescan(page: str, rng: random.Random) -> str:
    """OCR of another scan of the same paper: a few characters misread, one word lost."""
    swaps = {"0": "O", "1": "l", "5": "S", "e": "c", "a": "o", "m": "rn", "8": "B"}
    chars = [swaps.get(c, c) if rng.random() < 0.04 else c for c in page]
    words = "".join(chars).split(" ")
    del words[rng.randrange(len(words))]
    return " ".join(words)


@pytest.fixture(scope="module")
def page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "blank.pdf"
    path.write_bytes(make_page_pdf(np.full((110, 85), 255, np.uint8), 10.0, b""))
    return path


@pytest.fixture
def archive(settings: Settings, database_url: str | None) -> Iterator[Archive]:
    if database_url is not None:  # the CLI reads the config file: point it at the same database
        config = settings.archive.parent / "config.yaml"
        config.write_text(config.read_text().replace("database: null", f"database: '{database_url}'"))
    with Archive.open(settings.model_copy(update={"database": database_url})) as opened:
        opened.import_patients(PATIENTS)
        yield opened


def test_rescans_are_similar_and_template_siblings_are_not() -> None:
    rng = random.Random(5)
    for day in range(1, 12):
        first = lab_report(rng, day)
        again = signature_of([rescan(first, rng)])
        sibling = signature_of([lab_report(rng, day + 1)])
        original = signature_of([first])
        assert text_similarity(original.minhash, again.minhash) > 0.6
        assert number_similarity(original.numbers, again.numbers) > 0.5
        assert number_similarity(original.numbers, sibling.numbers) < 0.3  # other day, values, accession
    assert signature_of(["too short"]).minhash.size == 0


def column_reading(page: str) -> str:
    """OCR of a rescan that takes the results table column by column and loses the decimal
    points: every value's digits are still read, in another order and split differently; on
    the accession line, four 0s read as 6 (not a look-alike)."""
    head, rows = page.split("\n")[:3], page.split("\n")[3:-1]
    head[2] = head[2].replace("0", "6", 4)
    names = [r.split(" ")[0] for r in rows]
    values = [r.split(" ")[1] for r in rows]
    whole = " ".join(v.split(".")[0] for v in values)
    tenths = " ".join(v.split(".")[1] for v in values)
    return "\n".join(
        [*head, " ".join(names), whole, tenths, "mmol/L reference range see report", page.split("\n")[-1]]
    )


def test_digit_runs_find_a_rescan_read_in_another_order_and_not_a_sibling() -> None:
    rng = random.Random(7)
    for day in range(1, 12):
        first = lab_report(rng, day)
        original = signature_of([first])
        again = signature_of([column_reading(first)])
        sibling = signature_of([lab_report(rng, day + 1)])
        assert number_similarity(original.numbers, again.numbers) < NUMBER_THRESHOLD  # most 5-grams lost
        assert run_similarity(original.numbers, again.numbers) >= RUN_THRESHOLD
        assert run_similarity(original.numbers, sibling.numbers) < RUN_THRESHOLD
    assert run_similarity("12 05 2026", "12 05 2026") == 1.0
    assert run_similarity("1205 2026", "1205 2026") == 0.0  # too few numbers to tell apart
    assert run_similarity("120520264711", "120520264711") == 0.0  # a signature from before the runs


def test_a_rescan_read_in_another_order_is_marked(archive: Archive, tmp_path: Path, page_pdf: Path) -> None:
    rng = random.Random(3)
    first = lab_report(rng, 9)
    original = add_document(archive, tmp_path, page_pdf, [first], mrn="000123")
    sibling = add_document(archive, tmp_path, page_pdf, [lab_report(rng, 10)], mrn="000123")
    copy = add_document(archive, tmp_path, page_pdf, [column_reading(first)], mrn="000123")
    docs = {d["id"]: d for d in archive.list_documents()}
    assert docs[sibling]["duplicate_of"] is None
    assert docs[copy]["duplicate_of"] == original and docs[copy]["status"] == "review"


def test_rescan_goes_to_review_marked_and_a_clerk_supersedes_it(
    archive: Archive, tmp_path: Path, page_pdf: Path
) -> None:
    rng = random.Random(1)
    first = lab_report(rng, 3)
    original = add_document(archive, tmp_path, page_pdf, [first], mrn="000123")
    sibling = add_document(archive, tmp_path, page_pdf, [lab_report(rng, 4)], mrn="000123")
    other_patient = add_document(archive, tmp_path, page_pdf, [first], mrn="4567")  # never across patients
    copy = add_document(archive, tmp_path, page_pdf, [rescan(first, rng)], mrn="000123")
    docs = {d["id"]: d for d in archive.list_documents()}
    assert docs[sibling]["duplicate_of"] is None and docs[other_patient]["duplicate_of"] is None
    assert docs[copy]["duplicate_of"] == original and docs[copy]["status"] == "review"
    assert docs[copy]["duplicate_similarity"] > 0.6
    assert docs[copy]["review_reason"].startswith(f"possible duplicate of #{original} (similarity 0.")

    runner = CliRunner()
    config = ["--config", str(archive.root.parent / "config.yaml")]
    shown = runner.invoke(cli.app, [*config, "show", str(copy)])
    assert f"possible duplicate of: #{original}" in shown.output
    done = runner.invoke(cli.app, [*config, "--user", "clerk1", "duplicate", str(copy), "--keep", "other"])
    assert done.exit_code == 0, done.output
    listed = json.loads(runner.invoke(cli.app, [*config, "list", "--json"]).output)
    assert copy not in [d["id"] for d in listed]  # hidden from the chart
    everything = runner.invoke(cli.app, [*config, "list", "--superseded"]).output
    assert f"superseded by #{original}" in everything
    assert copy not in [h.document_id for h in archive.search("Juniper", limit=50)]  # and from search
    assert original in [h.document_id for h in archive.search("Juniper", limit=50)]
    entries = [e for e in archive.audit_log() if e.action == "duplicate"]
    assert len(entries) == 1 and entries[0].user == "clerk1"


def test_keeping_both_clears_the_mark(archive: Archive, tmp_path: Path, page_pdf: Path) -> None:
    rng = random.Random(2)
    first = lab_report(rng, 5)
    original = add_document(archive, tmp_path, page_pdf, [first], mrn="000123")
    copy = add_document(archive, tmp_path, page_pdf, [rescan(first, rng)], mrn="000123")
    archive.resolve_duplicate(copy, keep="both", user="clerk2")
    doc = archive.get_document(copy)
    assert doc["duplicate_of"] is None and doc["status"] == "filed" and doc["superseded_by"] is None
    with pytest.raises(Exception, match="not marked"):
        archive.resolve_duplicate(copy, keep="this", user="clerk2")
    assert archive.get_document(original)["superseded_by"] is None
