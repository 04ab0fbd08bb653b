"""Orchestration: wires the stages and runs files through them. Nothing else.

Per page (in worker processes, see page_worker.py): a PDF page that carries its own text
keeps it and is archived as it is (survey_pdf_page -> keep_pdf_page -> read_page_text);
any other page: load_page -> read_codes -> normalize_resolution -> straighten_page ->
ocr_page -> make_page_pdf. Per file, once its pages are all read (assemble.py, by the process
that finishes the file): split at separator and cover sheets -> classify_document ->
extract_identifiers + match_patient -> archive_document.

Who reads the pages and who assembles is a :class:`FileRunner`: :class:`LocalFiles` over any
``concurrent.futures.Executor`` (the local process pool; this process assembles), or Celery
workers (chartclerk.distributed.CeleryExecutor; the worker that stores a file's last page
assembles it). :func:`ingest_files` takes either and never asks which.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from chartclerk.assemble import FileOutcome, assemble_file, build_document, split_documents
from chartclerk.classify import warm_up_classifier
from chartclerk.errors import ChartclerkError
from chartclerk.ingest import PageTask, SourceFile, discover_files, inspect_source, quarantine
from chartclerk.page_worker import PageContext, PageOutcome, process_page
from chartclerk.settings import Settings
from chartclerk.store import Archive

__all__ = [
    "FileOutcome",
    "FileRun",
    "FileRunner",
    "LocalFiles",
    "NullProgress",
    "Progress",
    "build_document",
    "handle_inbox_file",
    "handle_inbox_files",
    "ingest_files",
    "split_documents",
]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class FileRun:
    """What a FileRunner needs for one ingest: where outcomes and progress go, and the bound
    on pages in flight."""

    settings: Settings
    archive: Archive
    ctx: PageContext
    limit: int  # pages sent and not yet read, at most
    progress: Progress
    done: Callable[[FileOutcome], None]  # each file's outcome, once


@runtime_checkable
class FileRunner(Protocol):
    """Reads the pages of ``sources`` and has each file assembled once its pages are all read,
    handing every file's outcome to ``run.done`` before returning."""

    def read_files(self, sources: Iterator[SourceFile], run: FileRun) -> None: ...


@dataclass
class _FileState:
    source: SourceFile
    results: dict[int, PageOutcome] = field(default_factory=dict)


class LocalFiles:
    """Pages on any executor (the local process pool, a serial one in tests); each file is
    assembled in this process as soon as its last page is read."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def read_files(self, sources: Iterator[SourceFile], run: FileRun) -> None:
        pending: dict[Future[PageOutcome], tuple[_FileState, int]] = {}

        def drain(block_until: int) -> None:
            while len(pending) > block_until:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    state, number = pending.pop(future)
                    state.results[number] = _outcome_of(future, number)
                    run.progress.page_done()
                    if len(state.results) == state.source.page_count:
                        pages = [state.results[n] for n in sorted(state.results)]
                        run.done(assemble_file(state.source, pages, run.settings, run.archive))

        for source in sources:
            state = _FileState(source)
            for number in range(1, source.page_count + 1):
                drain(run.limit - 1)
                future = self._executor.submit(process_page, PageTask(source, number), run.ctx)
                pending[future] = (state, number)
        drain(0)


def ingest_files(
    paths: Iterable[Path],
    settings: Settings,
    archive: Archive,
    executor: Executor,
    progress: Progress | None = None,
    max_in_flight: int | None = None,
) -> list[FileOutcome]:
    """Archive every scan under ``paths``; one bad file never stops the others.
    Pages of all files are spread over ``executor`` (a FileRunner, or any executor for
    :class:`LocalFiles`); each file is archived as soon as its last page is read."""
    progress = progress or NullProgress()
    threading.Thread(target=warm_up_classifier, args=(settings.classify,), daemon=True).start()
    scratch = Path(tempfile.mkdtemp(dir=archive.tmp_dir, prefix="run-"))  # page PDFs of this run only
    outcomes: list[FileOutcome] = []

    def done(outcome: FileOutcome) -> None:
        outcomes.append(outcome)
        progress.file_done(outcome)

    def sources() -> Iterator[SourceFile]:
        seen: set[str] = set()
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
            progress.pages_added(source.page_count)
            yield source

    runner = executor if isinstance(executor, FileRunner) else LocalFiles(executor)
    ctx = PageContext(settings.ingest, settings.ocr, scratch)
    limit = max_in_flight or 2 * settings.workers
    runner.read_files(sources(), FileRun(settings, archive, ctx, limit, progress, done))
    shutil.rmtree(scratch, ignore_errors=True)  # left behind by a crash: Archive.recover removes it
    return outcomes


def _outcome_of(future: Future[PageOutcome], number: int) -> PageOutcome:
    error = future.exception()
    if error is None:
        return future.result()
    log.error("page worker crashed: %s", type(error).__name__)
    return PageOutcome(number, error=f"internal error while reading a page ({type(error).__name__})")


def handle_inbox_file(
    path: Path, settings: Settings, archive: Archive, executor: Executor, progress: Progress | None = None
) -> FileOutcome:
    """The web upload's unit of work: one inbox file, as :func:`handle_inbox_files` takes it."""
    return handle_inbox_files([path], settings, archive, executor, progress)[0]


def handle_inbox_files(
    paths: Sequence[Path],
    settings: Settings,
    archive: Archive,
    executor: Executor,
    progress: Progress | None = None,
) -> list[FileOutcome]:
    """The watcher's unit of work: archive inbox files (their pages read side by side), then
    remove each archived one from the inbox; a failed one goes to the failed folder with a
    one-line reason. One outcome per path, in order."""
    files = [p for p in paths if not p.is_dir()]  # a folder is never taken whole, nor followed
    taken = {o.path: o for o in ingest_files(files, settings, archive, executor, progress)} if files else {}
    outcomes = []
    for path in paths:
        outcome = taken.get(path)
        if outcome is None:
            outcomes.append(FileOutcome(path, "failed", error="a folder, not a scan file"))
            continue
        if outcome.status == "failed":
            quarantine(path, settings.failed_dir, outcome.error or "unknown error")
        else:
            path.unlink(missing_ok=True)
        outcomes.append(outcome)
    return outcomes
