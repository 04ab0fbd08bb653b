"""Assembling a file once its pages are all read: split at separator and cover sheets ->
classify_document -> extract_identifiers + match_patient -> archive_document.

One library function, :func:`assemble_file`, called by whichever process finishes the file:
the submitting process with the local pool (chartclerk.pipeline), the Celery worker that
stored the file's last page (chartclerk.distributed)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chartclerk.classify import classify_document, extract_identifiers, match_patient
from chartclerk.errors import ChartclerkError
from chartclerk.ingest import SourceFile, split_batch
from chartclerk.log import document_context
from chartclerk.page_worker import PageOutcome
from chartclerk.settings import Settings
from chartclerk.store import Archive, ArchivedDocument, DocumentRecord, PageRecord, SourceRecord
from chartclerk.timing import StageTimes, Stopwatch, add_times

__all__ = [
    "DELIVERY_PREFIX",
    "FileOutcome",
    "assemble_file",
    "build_document",
    "failed_file",
    "split_documents",
]

log = logging.getLogger(__name__)

# The folder (under a run's scratch folder) a Celery worker writes one delivery's page PDF in.
DELIVERY_PREFIX = "delivery-"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: Path
    status: Literal["archived", "duplicate", "failed"]
    documents: tuple[ArchivedDocument, ...] = ()
    pages: int = 0
    error: str | None = None
    times: StageTimes = ()  # seconds per stage, pages' and the file's own


def split_documents(pages: Iterable[PageOutcome]) -> list[list[PageOutcome]]:
    """Runs of pages between separator and cover sheets; the sheets themselves are dropped."""
    return [list(doc.pages) for doc in split_batch(pages)]


def build_document(
    source: SourceFile,
    pages: list[PageOutcome],
    settings: Settings,
    archive: Archive,
    cover_mrn: str | None = None,
) -> DocumentRecord:
    text = "\n\f".join(p.text for p in pages)
    kind = classify_document(text, settings.classify)
    match = match_patient(extract_identifiers(text), archive.roster, settings.patients, cover_mrn)
    reasons = ([] if match.filed else [match.explained]) + (
        ["low type confidence"] if kind.confidence < settings.classify.min_confidence else []
    )
    return DocumentRecord(
        source=SourceRecord(source.path, source.name, source.sha256, source.size, source.page_count),
        source_pages=(pages[0].number, pages[-1].number),
        doc_type=kind.doc_type,
        loinc=kind.loinc,
        type_confidence=round(kind.confidence, 3),
        patient_mrn=match.mrn,
        patient_confidence=None if match.score is None else round(match.score, 3),
        status="review" if reasons else "filed",
        review_reason="; ".join(reasons) or None,
        match_reason=match.reason,
        candidates=match.candidates,
        pages=tuple(
            PageRecord(
                i,
                p.number,
                p.skew_degrees,
                p.rotation_degrees,
                p.ocr_confidence,
                p.text,
                p.pdf_page,
                words=p.words,
                text_source=p.text_source,
            )
            for i, p in enumerate(pages, start=1)
            if p.pdf_page is not None
        ),
    )


def assemble_file(
    source: SourceFile, pages: list[PageOutcome], settings: Settings, archive: Archive
) -> FileOutcome:
    """Archive the documents of a file whose pages (in page order) are all read; the pages'
    PDFs are removed afterwards, whatever the outcome. Idempotent: a file assembled again
    (its first assembler died) keeps the documents already archived (archive_document)."""
    with document_context(source.sha256[:12]):
        try:
            failed = [p.error for p in pages if p.error]
            if failed:
                return failed_file(source, len(pages), failed[0], archive)
            watch = Stopwatch()
            with watch.lap("store original"):
                archive.store_original(
                    SourceRecord(source.path, source.name, source.sha256, source.size, len(pages))
                )
            archived = []
            for doc in split_batch(pages):
                with watch.lap("classify+match"):
                    record = build_document(source, list(doc.pages), settings, archive, doc.cover_mrn)
                with watch.lap("archive (pdf+db)"):
                    archived.append(archive.archive_document(record))
            archive.complete_source(source.sha256)
            log.info("archived %d document(s) from %d page(s)", len(archived), len(pages))
            times = tuple(add_times([watch.times(), *(p.times for p in pages)]).items())
            return FileOutcome(source.path, "archived", tuple(archived), pages=len(pages), times=times)
        except ChartclerkError as e:
            return failed_file(source, len(pages), e.message, archive)
        finally:
            for p in pages:
                if p.pdf_page is not None:
                    p.pdf_page.unlink(missing_ok=True)
                    if p.pdf_page.parent.name.startswith(DELIVERY_PREFIX):
                        with contextlib.suppress(OSError):  # a Celery delivery's own folder, now empty
                            p.pdf_page.parent.rmdir()


def failed_file(source: SourceFile, pages: int, error: str, archive: Archive) -> FileOutcome:
    """A failed file that another process archived meanwhile (e.g. the watcher took it from
    under an ingest of the inbox) is a duplicate, not a failure."""
    try:
        complete = archive.source_status(source.sha256) == "complete"
    except ChartclerkError:
        complete = False
    if complete:
        return FileOutcome(source.path, "duplicate", pages=pages)
    return FileOutcome(source.path, "failed", pages=pages, error=error)
