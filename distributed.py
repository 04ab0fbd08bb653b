"""Page jobs on Celery workers (Redis as the broker; RabbitMQ works too): the FileRunner that
``ingest``, ``watch`` and the web upload use when ``broker`` is set, the worker's task, and
the queue status.

Each page of a file is one Celery task. State lives in the archive database: ``file_jobs``
(migration 0013), one row per file keyed by its sha256, and ``page_jobs`` (migration 0011),
one row per page keyed by the sha256 and the page number; both carry the submission's job id.

- :class:`CeleryExecutor` (the submitting side; a :class:`chartclerk.pipeline.FileRunner`)
  records a file as ``reading`` with its pages ``queued``, sends one task a page (at most
  ``limit`` pages in flight), and reports each file's outcome once a worker has assembled it.
  A message the broker lost is made good: pages still queued, or a file read but not
  assembled, ``resend_seconds`` after the file last moved are sent again (a duplicate is
  harmless: results are stored once, and a file is assembled once).
- :func:`read_page` (the task, in ``chartclerk worker``): skips a delivery of an older job or
  of a page already read; counts the delivery in ``attempts`` before reading; a page whose
  earlier deliveries killed their worker ``max_attempts`` times is failed with that reason
  instead of being read again; the result is stored once (a page read twice is stored once).
- :func:`finish_file` (the same task, after the page): under the file's assembly lock (a
  PostgreSQL advisory lock held by the worker's connection, or ``flock`` on SQLite; the
  kernel or the server drops it when the worker dies, even by SIGKILL), if every page of the
  job is stored and the file is not finished, assembles it with
  :func:`chartclerk.assemble.assemble_file` (the local pool's own function) and records the
  outcome. A redelivered task of a page already stored still runs it: that is how a file
  whose assembler died is finished. An assembly started ``max_attempts`` times without
  finishing fails the file.
- Reliability settings: acks late (a job is acknowledged when done, so a job of a worker that
  dies is delivered again), reject on worker lost (a killed worker child's job goes back to
  the queue at once), prefetch 1 (a worker holds one job beyond those it runs), Redis's
  visibility timeout above the longest page job, and a broker connection retried for ever (a
  restarted broker is found again by workers and by the submitting process).

Tasks travel pickled (a PageTask and PageContext): the broker must be reachable by chartclerk's
machines only. Workers read originals and write page PDFs under the archive folder's ``tmp/``
(each delivery in a folder of its own), which every machine mounts at the same path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import pickle
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import Engine, delete, func, select, text, update

from chartclerk.assemble import DELIVERY_PREFIX, FileOutcome, assemble_file, failed_file
from chartclerk.ingest import PageTask, SourceFile
from chartclerk.page_worker import PageContext, PageOutcome, process_page
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.store.db import make_engine, session_scope, write_engine
from chartclerk.store.tables import FileJobRow, PageJobRow, utcnow

if TYPE_CHECKING:
    from chartclerk.pipeline import FileRun

__all__ = [
    "FINISHED",
    "QUEUE",
    "TASK_NAME",
    "CeleryExecutor",
    "QueueStatus",
    "SubmitStats",
    "WorkerCounts",
    "finish_file",
    "make_celery",
    "queue_status",
    "read_page",
    "record_file",
    "run_worker",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

QUEUE = "chartclerk.pages"
TASK_NAME = "chartclerk.read_page"
FINISHED = ("archived", "duplicate", "failed")  # file_jobs states that are final
_LOCK_SPACE = 0x0C4A  # the first key of chartclerk's PostgreSQL advisory locks


def make_celery(settings: Settings) -> Any:
    """The Celery app of a broker URL, with the reliability settings of the module doc."""
    from celery import Celery

    if settings.broker is None:
        raise ValueError("no broker configured")
    app = Celery("chartclerk", broker=settings.broker, set_as_current=False)
    visibility = settings.distributed.visibility_timeout_seconds
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": visibility,
            # Redis gives back jobs taken by a worker that vanished (or that lost its connection
            # when the broker restarted) once the visibility timeout has passed: swept every
            # tenth of it (at most a minute), each sweep one cheap sorted-set query.
            "unacked_restore_interval": max(1, min(60, visibility // 10)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,  # a restarted broker is waited for, never given up on
        task_serializer="pickle",
        accept_content=["pickle"],
        task_ignore_result=True,
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    app.task(name=TASK_NAME, bind=False)(_read_page_task)
    return app


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- the worker side ------------------------------------------------------------------------------

# Set by run_worker before the pool forks; each child opens its own archive (never a forked one).
_worker_settings: Settings | None = None
_archive_pid: tuple[int, Archive] | None = None


def _archive() -> Archive:
    global _archive_pid
    if _archive_pid is None or _archive_pid[0] != os.getpid():
        assert _worker_settings is not None, "run_worker sets the settings"
        _archive_pid = (os.getpid(), Archive.open(_worker_settings))
    return _archive_pid[1]


def _read_page_task(job: str, task: Any, ctx: PageContext) -> str:
    assert _worker_settings is not None
    archive, attempts = _archive(), _worker_settings.distributed.max_attempts
    done = read_page(archive.engine, job, task, ctx, max_attempts=attempts)
    if done != "stale":
        finish_file(archive, job, task.source, _worker_settings, max_attempts=attempts)
    return done


def read_page(engine: Engine, job: str, task: Any, ctx: PageContext, *, max_attempts: int) -> str:
    """Read one page for job ``job`` (see the module doc); returns what was done:
    ``stale``, ``already``, ``failed`` or ``done``."""
    key = (task.source.sha256, task.number)
    writer = write_engine(engine)
    with session_scope(writer) as session:
        row = session.get(PageJobRow, key, with_for_update=True)
        if row is None or row.job != job:
            return "stale"  # a delivery of an older submission of this page
        if row.state in ("done", "failed"):
            return "already"  # redelivered after it was stored
        if row.attempts >= max_attempts:
            row.state = "failed"
            row.error = (
                f"page {task.number}: its worker stopped (killed or crashed) {row.attempts} times "
                "while reading it; not tried again"
            )
            log.error("page job %s:p%d failed after %d attempts", key[0][:12], key[1], row.attempts)
            return "failed"
        row.attempts += 1
        row.state = "running"
        row.worker = _me()
        row.updated_at = utcnow()
    # This delivery's own folder: a duplicate delivery never writes over another's page PDF.
    delivery = ctx.tmp_dir / f"{DELIVERY_PREFIX}{uuid.uuid4().hex[:16]}"
    delivery.mkdir(parents=True, exist_ok=True)
    try:
        outcome = process_page(task, replace(ctx, tmp_dir=delivery))
    except Exception as e:  # noqa: BLE001 - a bug in a stage fails the page, not the worker
        log.exception("page worker crashed")
        outcome = PageOutcome(task.number, error=f"internal error while reading a page ({type(e).__name__})")
    with session_scope(writer) as session:
        row = session.get(PageJobRow, key, with_for_update=True)
        stored = not (row is None or row.job != job or row.state in ("done", "failed"))
        if row is not None and stored:
            row.state = "done"
            row.result = pickle.dumps(outcome)
            row.error = None if outcome.error is None else outcome.error[:512]
            row.updated_at = utcnow()
    if not stored and outcome.pdf_page is not None:
        outcome.pdf_page.unlink(missing_ok=True)  # stored by another delivery meanwhile: stored once
    if outcome.pdf_page is None or not stored:
        with contextlib.suppress(OSError):
            delivery.rmdir()
    return "done" if stored else "already"


@contextlib.contextmanager
def _assembly_lock(archive: Archive, sha256: str) -> Iterator[None]:
    """Held while a process checks and assembles a file; dropped when the process dies."""
    engine = archive.engine
    if engine.dialect.name == "postgresql":
        key = {"space": _LOCK_SPACE, "key": int(sha256[:7], 16)}  # a collision only serializes
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:space, :key)"), key)
            conn.commit()  # a session lock: it outlives the transaction, not the connection
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), key)
                    conn.commit()
                except Exception:  # noqa: BLE001 - a connection that cannot unlock is not reused
                    conn.invalidate()
        return
    # SQLite: one machine's archive; one lock for all files, as SQLite has one writer anyway.
    fd = os.open(archive.tmp_dir / "assemble.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def finish_file(
    archive: Archive, job: str, source: SourceFile, settings: Settings, *, max_attempts: int
) -> str:
    """Assemble the file of job ``job`` if all its pages are stored and nobody has finished it
    (see the module doc). Returns ``stale`` (another submission), ``waiting`` (pages still to
    read), ``finished`` (already final) or the status this call recorded."""
    sha = source.sha256
    writer = write_engine(archive.engine)
    with _assembly_lock(archive, sha):
        with session_scope(writer) as session:
            row = session.get(FileJobRow, sha)
            if row is None or row.job != job:
                return "stale"
            if row.state in FINISHED:
                return "finished"
            finished_pages = (
                (PageJobRow.source_sha256 == sha)
                & (PageJobRow.job == job)
                & PageJobRow.state.in_(("done", "failed"))
            )
            if (session.scalar(select(func.count()).where(finished_pages)) or 0) < row.pages:
                return "waiting"  # counted, not read: a big file's results are read once, by its assembler
            stored = session.execute(
                select(PageJobRow.page, PageJobRow.state, PageJobRow.result, PageJobRow.error)
                .where(finished_pages)
                .order_by(PageJobRow.page)
            ).all()
            assembler_died = row.attempts >= max_attempts
            if not assembler_died:
                row.state, row.attempts, row.worker = "assembling", row.attempts + 1, _me()
        if assembler_died:
            outcome = failed_file(
                source,
                len(stored),
                f"assembling its documents stopped its worker (killed or crashed) {max_attempts} times; "
                "not tried again",
                archive,
            )
        else:
            pages = [
                pickle.loads(result)
                if state == "done" and result is not None  # noqa: S301 - our workers'
                else PageOutcome(page, error=error or f"page {page}: failed")
                for page, state, result, error in stored
            ]
            try:
                outcome = assemble_file(source, pages, settings, archive)
            except Exception as e:  # noqa: BLE001 - a bug fails the file, not the worker
                log.exception("assembling file %s crashed", sha[:12])
                outcome = FileOutcome(
                    source.path, "failed", pages=len(pages), error=f"internal error ({type(e).__name__})"
                )
        with session_scope(writer) as session:
            row = session.get(FileJobRow, sha)
            if row is None or row.job != job:
                return "stale"  # submitted again meanwhile: that submission reports its own outcome
            row.state = outcome.status
            row.outcome = pickle.dumps(outcome)
            row.error = None if outcome.error is None else outcome.error[:512]
            row.documents = ",".join(str(d.id) for d in outcome.documents) or None
            row.worker = _me()
            session.execute(
                update(PageJobRow)
                .where(PageJobRow.source_sha256 == sha, PageJobRow.job == job)
                .values(result=None)
            )
    log.info("file %s %s by this worker (%d document(s))", sha[:12], outcome.status, len(outcome.documents))
    return outcome.status


def run_worker(settings: Settings, concurrency: int, name: str | None = None) -> None:
    """Run a Celery worker (prefork, ``concurrency`` processes) until stopped."""
    global _worker_settings
    from celery.signals import worker_process_init

    _worker_settings = settings
    worker_process_init.connect(_init_child, weak=False)
    app = make_celery(settings)
    argv = ["worker", "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", "INFO"]
    argv += ["--prefetch-multiplier", "1", "--queues", QUEUE, "--without-gossip", "--without-mingle"]
    argv += ["--hostname", name or f"chartclerk-{uuid.uuid4().hex[:6]}@%h"]
    app.worker_main(argv)


def _init_child(**_: Any) -> None:
    # One single-threaded tesseract and OpenCV per process, as in the local pool.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import cv2

    cv2.setNumThreads(1)
    # This process may assemble files: its classifier loads while its first pages are read,
    # as the submitting process's does with the local pool.
    from chartclerk.classify import warm_up_classifier

    assert _worker_settings is not None
    threading.Thread(target=warm_up_classifier, args=(_worker_settings.classify,), daemon=True).start()


# -- the submitting side --------------------------------------------------------------------------


def record_file(engine: Engine, source: SourceFile) -> str:
    """Record a file as ``reading`` and its pages as ``queued`` under a new job id (replacing
    an earlier submission of the same file); returns the job id."""
    sha, job = source.sha256, uuid.uuid4().hex
    with session_scope(write_engine(engine)) as session:
        session.execute(delete(PageJobRow).where(PageJobRow.source_sha256 == sha))
        session.execute(delete(FileJobRow).where(FileJobRow.source_sha256 == sha))
        session.add(
            FileJobRow(
                source_sha256=sha, job=job, path=str(source.path), pages=source.page_count,
                state="reading", attempts=0,
            )
        )  # fmt: skip
        session.add_all(
            PageJobRow(source_sha256=sha, page=n, job=job, state="queued", attempts=0)
            for n in range(1, source.page_count + 1)
        )
    return job


@dataclass(frozen=True, slots=True)
class SubmitStats:
    """The submitting process's own cost (seconds spent, not waiting): recording files and
    pages in the database, sending the tasks to the broker, and polling for progress."""

    pages_sent: int
    pages_resent: int
    record_seconds: float
    send_seconds: float
    poll_seconds: float
    polls: int  # one every poll_seconds while files are in flight, whatever their number of pages


@dataclass
class _File:
    source: SourceFile
    job: str
    sent: int = 0  # pages sent (1..sent)
    done: int = 0  # pages stored (done or failed), as last seen
    moved: float = field(default_factory=time.monotonic)  # when it last made progress


class CeleryExecutor(Executor):
    """Sends files' pages to Celery workers, which assemble each file (a FileRunner); also a
    ``concurrent.futures.Executor`` for its life cycle (``with``, ``shutdown``) only."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app = make_celery(settings)
        self._engine: Engine | None = None
        self._unsent: list[tuple[_File, int]] = []  # pages whose message the broker refused
        self._sent = self._resent = 0
        self._record = self._sending = self._polling = 0.0
        self._polls = 0

    @property
    def stats(self) -> SubmitStats:
        return SubmitStats(self._sent, self._resent, self._record, self._sending, self._polling, self._polls)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        raise TypeError("CeleryExecutor runs whole files (read_files), not single calls")

    def read_files(self, sources: Iterator[SourceFile], run: FileRun) -> None:
        files: dict[str, _File] = {}
        for source in sources:
            files[source.sha256] = entry = self._register(source)
            while entry.sent < source.page_count:
                while self._in_flight(files) >= run.limit:
                    self._wait(files, run)
                entry.sent += 1
                self._send(entry, entry.sent, run.ctx)
        while files:
            self._wait(files, run)

    def _db(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self._settings.database_url)
        return self._engine

    def _register(self, source: SourceFile) -> _File:
        t = time.perf_counter()
        job = record_file(self._db(), source)
        self._record += time.perf_counter() - t
        return _File(source, job)

    def _send(self, entry: _File, page: int, ctx: PageContext, *, again: bool = False) -> None:
        t = time.perf_counter()
        try:
            self._app.send_task(TASK_NAME, args=(entry.job, PageTask(entry.source, page), ctx), queue=QUEUE)
        except Exception as e:  # noqa: BLE001 - the broker is away: sent again at the next poll
            log.warning(
                "cannot send page %s:p%d (%s); trying again", entry.source.sha256[:12], page, type(e).__name__
            )
            self._unsent.append((entry, page))
        else:
            self._sent += 1
            self._resent += again
        self._sending += time.perf_counter() - t

    @staticmethod
    def _in_flight(files: dict[str, _File]) -> int:
        return sum(f.sent - f.done for f in files.values())

    def _wait(self, files: dict[str, _File], run: FileRun) -> None:
        """One poll: progress, finished files, and pages to send again."""
        time.sleep(self._settings.distributed.poll_seconds)
        unsent, self._unsent = self._unsent, []
        for entry, page in unsent:
            self._send(entry, page, run.ctx, again=True)
        t = time.perf_counter()
        try:
            self._poll(files, run)
        finally:
            self._polling += time.perf_counter() - t
            self._polls += 1

    def _poll(self, files: dict[str, _File], run: FileRun) -> None:
        shas = list(files)
        now = time.monotonic()
        with session_scope(self._db()) as session:
            for start in range(0, len(shas), 500):
                chunk = shas[start : start + 500]
                stored = dict(
                    session.execute(
                        select(PageJobRow.source_sha256, func.count())
                        .where(PageJobRow.source_sha256.in_(chunk), PageJobRow.state.in_(("done", "failed")))
                        .group_by(PageJobRow.source_sha256)
                    ).all()
                )
                rows = session.execute(
                    select(FileJobRow.source_sha256, FileJobRow.job, FileJobRow.state).where(
                        FileJobRow.source_sha256.in_(chunk)
                    )
                ).all()
                states = {sha: (job, state) for sha, job, state in rows}
                for sha in chunk:
                    entry = files[sha]
                    count = stored.get(sha, 0)
                    for _ in range(count - entry.done):
                        run.progress.page_done()
                    if count > entry.done:
                        entry.done, entry.moved = count, now
                    job, state = states.get(sha, (None, None))
                    if job != entry.job:
                        del files[sha]
                        run.done(self._taken_over(entry, run))
                    elif state in FINISHED:
                        del files[sha]
                        outcome = session.scalar(
                            select(FileJobRow.outcome).where(FileJobRow.source_sha256 == sha)
                        )
                        assert outcome is not None, "a finished file has its outcome"
                        run.done(pickle.loads(outcome))  # noqa: S301 - written by our own workers
                    elif now - entry.moved > self._settings.distributed.resend_seconds:
                        entry.moved = now
                        self._send_again(session, entry, run)

    def _send_again(self, session: Any, entry: _File, run: FileRun) -> None:
        """Pages of a file that did not move for resend_seconds: those still queued (their
        message was lost), those running for longer than the visibility timeout (longer than
        any page job: their task ended without storing them), or one page when all are stored
        (its file was never assembled)."""
        sha = entry.source.sha256
        stuck = utcnow() - dt.timedelta(seconds=self._settings.distributed.visibility_timeout_seconds)
        queued = session.scalars(
            select(PageJobRow.page).where(
                PageJobRow.source_sha256 == sha,
                PageJobRow.job == entry.job,
                (PageJobRow.state == "queued")
                | ((PageJobRow.state == "running") & (PageJobRow.updated_at < stuck)),
            )
        ).all()
        pages = [p for p in queued if p <= entry.sent] or (
            [1] if entry.done == entry.source.page_count else []
        )
        if pages:
            log.warning("file %s did not move: sending %d page(s) again", sha[:12], len(pages))
        for page in pages:
            self._send(entry, page, run.ctx, again=True)

    def _taken_over(self, entry: _File, run: FileRun) -> FileOutcome:
        """Another process submitted the same file again meanwhile: it reports that submission."""
        error = "submitted again by another process before its pages were read"
        return failed_file(entry.source, entry.source.page_count, error, run.archive)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


# -- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerCounts:
    worker: str  # host:pid of the process that last took the page ("-": not taken yet)
    queued: int
    running: int
    done: int
    failed: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    waiting_in_broker: int | None  # messages in the broker's queue (None: broker unreachable)
    workers: tuple[WorkerCounts, ...]
    files: dict[str, int]  # files per state: reading, assembling, archived, duplicate, failed


def queue_status(settings: Settings, engine: Engine) -> QueueStatus:
    """Pages queued, in flight, done and failed per worker (page_jobs), files per state
    (file_jobs), and the broker's queue length."""
    counts: dict[str, dict[str, int]] = {}
    with session_scope(engine) as session:
        for worker, state, n in session.execute(
            select(PageJobRow.worker, PageJobRow.state, func.count()).group_by(
                PageJobRow.worker, PageJobRow.state
            )
        ):
            counts.setdefault(worker or "-", {})[state] = n
        files: dict[str, int] = {
            state: n
            for state, n in session.execute(select(FileJobRow.state, func.count()).group_by(FileJobRow.state))
        }
    waiting: int | None = None
    if settings.broker is not None:
        try:
            with make_celery(settings).connection_for_write() as conn:
                # Declared as Celery declares it (a passive declare fails on Redis when it is empty).
                declared = conn.default_channel.queue_declare(queue=QUEUE, durable=True, auto_delete=False)
                waiting = declared.message_count
        except Exception:  # noqa: BLE001 - the status still shows the database's side
            waiting = None
    return QueueStatus(
        waiting,
        tuple(
            WorkerCounts(w, c.get("queued", 0), c.get("running", 0), c.get("done", 0), c.get("failed", 0))
            for w, c in sorted(counts.items())
        ),
        {state: files[state] for state in ("reading", "assembling", *FINISHED) if state in files},
    )
