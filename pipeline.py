"""Orchestration: wires the stages and runs files through them. Nothing else.

Per page (in worker processes, see page_worker.py): a PDF page that carries its own text
keeps it and is archived as it is (survey_pdf_page -> keep_pdf_page -> read_page_text);
any other page: load_page -> read_codes -> normalize_resolution -> straighten_page ->
ocr_page -> make_page_pdf. Per document (in this process,
once a file's pages are all read): split at separator and cover sheets -> classify_document
-> extract_identifiers + match_patient -> archive_document.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from chartclerk.classify import classify_document, extract_identifiers, match_patient, warm_up_classifier
from chartclerk.errors import ChartclerkError
from chartclerk.ingest import PageTask, SourceFile, discover_files, inspect_source, quarantine, split_batch
from chartclerk.log import document_context
from chartclerk.page_worker import PageContext, PageOutcome, process_page
from chartclerk.settings import Settings
from chartclerk.store import (
    Archive,
    ArchivedDocument,
    DocumentRecord,
    PageRecord,
    SourceRecord,
)
from chartclerk.timing import StageTimes, Stopwatch, add_times

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: Path
    status: Literal["archived", "duplicate", "failed"]
    documents: tuple[ArchivedDocument, ...] = ()
    pages: int = 0
    error: str | None = None
    times: StageTimes = ()  # seconds per stage, pages' and the file's own


class Progress(Protocol):
    def pages_added(self, count: int) -> None: ...
    def page_done(self) -> None: ...
    def file_done(self, outcome: FileOutcome) -> None: ...


class NullProgress:
    def pages_added(self, count: int) -> None:
        pass

    def page_done(self) -> None:
        pass

    def file_done(self, outcome: FileOutcome) -> None:
        pass


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
    reasons = ([] if match.filed else [match.reason]) + (
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


@dataclass
class _FileState:
    source: SourceFile
    results: dict[int, PageOutcome] = field(default_factory=dict)


def ingest_files(
    paths: Iterable[Path],
    settings: Settings,
    archive: Archive,
    executor: Executor,
    progress: Progress | None = None,
    max_in_flight: int | None = None,
) -> list[FileOutcome]:
    """Archive every scan under ``paths``; one bad file never stops the others.
    Pages of all files are spread over ``executor``; each file is archived as soon
    as its last page is read."""
    progress = progress or NullProgress()
    threading.Thread(target=warm_up_classifier, args=(settings.classify,), daemon=True).start()
    scratch = Path(tempfile.mkdtemp(dir=archive.tmp_dir, prefix="run-"))  # page PDFs of this run only
    ctx = PageContext(settings.ingest, settings.ocr, scratch)
    limit = max_in_flight or 2 * settings.workers
    pending: dict[Future[PageOutcome], tuple[_FileState, int]] = {}
    outcomes: list[FileOutcome] = []
    seen: set[str] = set()

    def done(outcome: FileOutcome) -> None:
        outcomes.append(outcome)
        progress.file_done(outcome)

    def drain(block_until: int) -> None:
        while len(pending) > block_until:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                state, number = pending.pop(future)
                state.results[number] = _outcome_of(future, number)
                progress.page_done()
                if len(state.results) == state.source.page_count:
                    done(_finish_file(state, settings, archive))

    for path in discover_files(paths, exclude=[settings.archive]):
        try:
            source = inspect_source(path, settings.ingest)
        except ChartclerkError as e:
            done(FileOutcome(path, "failed", error=e.message))
            continue
        if source.sha256 in seen or archive.source_status(source.sha256) == "complete":
            done(FileOutcome(path, "duplicate", pages=source.page_count))
            continue
        seen.add(source.sha256)
        state = _FileState(source)
        progress.pages_added(source.page_count)
        for number in range(1, source.page_count + 1):
            drain(limit - 1)
            pending[executor.submit(process_page, PageTask(source, number), ctx)] = (state, number)
    drain(0)
    shutil.rmtree(scratch, ignore_errors=True)  # left behind by a crash: Archive.recover removes it
    return outcomes


def _outcome_of(future: Future[PageOutcome], number: int) -> PageOutcome:
    error = future.exception()
    if error is None:
        return future.result()
    log.error("page worker crashed: %s", type(error).__name__)
    return PageOutcome(number, error=f"internal error while reading a page ({type(error).__name__})")


def _finish_file(state: _FileState, settings: Settings, archive: Archive) -> FileOutcome:
    source = state.source
    pages = [state.results[n] for n in sorted(state.results)]
    with document_context(source.sha256[:12]):
        try:
            failed = [p.error for p in pages if p.error]
            if failed:
                return _failure(source, len(pages), failed[0], archive)
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
            return _failure(source, len(pages), e.message, archive)
        finally:
            for p in pages:
                if p.pdf_page is not None:
                    p.pdf_page.unlink(missing_ok=True)


def _failure(source: SourceFile, pages: int, error: str, archive: Archive) -> FileOutcome:
    """A failed file that another process archived meanwhile (e.g. the watcher took it from
    under an ingest of the inbox) is a duplicate, not a failure."""
    try:
        complete = archive.source_status(source.sha256) == "complete"
    except ChartclerkError:
        complete = False
    if complete:
        return FileOutcome(source.path, "duplicate", pages=pages)
    return FileOutcome(source.path, "failed", pages=pages, error=error)


def handle_inbox_file(
    path: Path, settings: Settings, archive: Archive, executor: Executor, progress: Progress | None = None
) -> FileOutcome:
    """The watcher's (and the web upload's) unit of work: archive one inbox file, then remove it
    from the inbox; on failure move it to the failed folder with a one-line reason."""
    outcomes = [] if path.is_dir() else ingest_files([path], settings, archive, executor, progress)
    if not outcomes:  # a folder is never taken whole (the watcher walks it), nor followed
        return FileOutcome(path, "failed", error="a folder, not a scan file")
    outcome = outcomes[0]
    if outcome.status == "failed":
        quarantine(path, settings.failed_dir, outcome.error or "unknown error")
    else:
        path.unlink(missing_ok=True)
    return outcome
