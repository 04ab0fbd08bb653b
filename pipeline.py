"""Orchestration: wires the stages and runs files through them. Nothing else.

Per page (in worker processes): load_page -> read_codes -> normalize_resolution
-> straighten_page -> ocr_page -> make_page_pdf. Per document (in this process,
once a file's pages are all read): split at separator sheets -> classify_document
-> extract_identifiers + match_patient -> archive_document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from chartclerk.classify import classify_document, extract_identifiers, match_patient
from chartclerk.errors import ChartclerkError
from chartclerk.ingest import (
    PageTask,
    SourceFile,
    discover_files,
    inspect_source,
    is_separator,
    load_page,
    quarantine,
    read_codes,
)
from chartclerk.log import document_context
from chartclerk.ocr import normalize_resolution, ocr_page, straighten_page
from chartclerk.settings import IngestSettings, OcrSettings, Settings
from chartclerk.store import (
    Archive,
    ArchivedDocument,
    DocumentRecord,
    PageRecord,
    SourceRecord,
    make_page_pdf,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a worker process needs for one page; picklable."""

    ingest: IngestSettings
    ocr: OcrSettings
    tmp_dir: Path


@dataclass(frozen=True, slots=True)
class PageOutcome:
    number: int
    separator: bool = False
    skew_degrees: float = 0.0
    rotation_degrees: int = 0
    ocr_confidence: float | None = None
    text: str = ""
    pdf_page: Path | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: Path
    status: Literal["archived", "duplicate", "failed"]
    documents: tuple[ArchivedDocument, ...] = ()
    pages: int = 0
    error: str | None = None


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


def process_page(task: PageTask, ctx: PageContext) -> PageOutcome:
    """Everything done to one page; runs in a worker process."""
    with document_context(f"{task.source.sha256[:12]}:p{task.number}"):
        try:
            page = load_page(task.source, task.number, ctx.ingest)
            if is_separator(read_codes(page.image), ctx.ingest.separator_code):
                return PageOutcome(task.number, separator=True)
            read = ocr_page(straighten_page(normalize_resolution(page, ctx.ocr)), ctx.ocr)
            pdf_page = ctx.tmp_dir / f"{task.source.sha256[:24]}-{task.number:05d}.pdf"
            pdf_page.write_bytes(
                make_page_pdf(read.page.image, read.page.dpi, read.ocr.text_layer_pdf, ctx.ocr.jpeg_quality)
            )
        except ChartclerkError as e:
            return PageOutcome(task.number, error=f"page {task.number}: {e.message}")
        return PageOutcome(
            number=task.number,
            skew_degrees=read.page.skew_degrees,
            rotation_degrees=read.page.rotation_degrees,
            ocr_confidence=None if read.ocr.mean_confidence is None else round(read.ocr.mean_confidence, 1),
            text=read.ocr.text,
            pdf_page=pdf_page,
        )


def split_documents(pages: Iterable[PageOutcome]) -> list[list[PageOutcome]]:
    """Runs of pages between separator sheets; the sheets themselves are dropped."""
    documents: list[list[PageOutcome]] = [[]]
    for page in pages:
        if page.separator:
            documents.append([])
        else:
            documents[-1].append(page)
    return [d for d in documents if d]


def build_document(
    source: SourceFile, pages: list[PageOutcome], settings: Settings, archive: Archive
) -> DocumentRecord:
    text = "\n\f".join(p.text for p in pages)
    kind = classify_document(text, settings.classify)
    match = match_patient(extract_identifiers(text), archive.roster, settings.patients)
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
            PageRecord(i, p.number, p.skew_degrees, p.rotation_degrees, p.ocr_confidence, p.text, p.pdf_page)
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
    ctx = PageContext(settings.ingest, settings.ocr, archive.tmp_dir)
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
                return FileOutcome(source.path, "failed", pages=len(pages), error=failed[0])
            archive.store_original(
                SourceRecord(source.path, source.name, source.sha256, source.size, len(pages))
            )
            archived = tuple(
                archive.archive_document(build_document(source, doc, settings, archive))
                for doc in split_documents(pages)
            )
            archive.complete_source(source.sha256)
            log.info("archived %d document(s) from %d page(s)", len(archived), len(pages))
            return FileOutcome(source.path, "archived", archived, pages=len(pages))
        except ChartclerkError as e:
            return FileOutcome(source.path, "failed", pages=len(pages), error=e.message)
        finally:
            for p in pages:
                if p.pdf_page is not None:
                    p.pdf_page.unlink(missing_ok=True)


def handle_inbox_file(path: Path, settings: Settings, archive: Archive, executor: Executor) -> FileOutcome:
    """The watcher's unit of work: archive one inbox file, then remove it from the
    inbox; on failure move it to the failed folder with a one-line reason."""
    outcome = ingest_files([path], settings, archive, executor)[0]
    if outcome.status == "failed":
        quarantine(path, settings.failed_dir, outcome.error or "unknown error")
    else:
        path.unlink(missing_ok=True)
    return outcome
