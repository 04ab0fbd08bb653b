"""Page jobs on Celery workers (Redis as the broker; RabbitMQ works too): the executor that
``ingest`` and ``watch`` use when ``broker`` is set, the worker's task, and the queue status.

Each page of a file is one Celery task. Its state lives in the archive database, in
``page_jobs`` (migration 0011), keyed by the source's sha256 and the page number:

- :class:`CeleryExecutor` (a ``concurrent.futures.Executor``, so chartclerk.pipeline runs
  as with the local pool) records the page as ``queued`` under a new job id, sends the task,
  and resolves the page's future when a worker has stored its result. The file's documents
  are then assembled (split, classify, match, archive) once, by the pipeline in the
  submitting process, when its last page is read.
- :func:`read_page` (the task, in ``chartclerk worker``): skips a delivery of an older job or
  of a page already read; counts the delivery in ``attempts`` before reading; a page whose
  earlier deliveries killed their worker ``max_attempts`` times is failed with that reason
  instead of being read again; the result is stored once (a page read twice is stored once).
- Reliability settings: acks late (a job is acknowledged when done, so a job of a worker that
  dies is delivered again), reject on worker lost (a killed worker child's job goes back to
  the queue at once), prefetch 1 (a worker holds one job beyond those it runs), and Redis's
  visibility timeout above the longest page job.

Tasks travel pickled (a PageTask and PageContext): the broker must be reachable by chartclerk's
machines only. Workers read originals and write page PDFs under the archive folder, which
every machine mounts at the same path.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, delete, func, select, tuple_

from chartclerk.page_worker import PageContext, PageOutcome, process_page
from chartclerk.settings import Settings
from chartclerk.store.db import make_engine, session_scope, write_engine
from chartclerk.store.tables import PageJobRow, utcnow

__all__ = [
    "QUEUE",
    "TASK_NAME",
    "CeleryExecutor",
    "QueueStatus",
    "WorkerCounts",
    "make_celery",
    "queue_status",
    "read_page",
    "run_worker",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

QUEUE = "chartclerk.pages"
TASK_NAME = "chartclerk.read_page"


def make_celery(settings: Settings) -> Any:
    """The Celery app of a broker URL, with the reliability settings of the module doc."""
    from celery import Celery

    if settings.broker is None:
        raise ValueError("no broker configured")
    app = Celery("chartclerk", broker=settings.broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.distributed.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
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


# -- the worker side ------------------------------------------------------------------------------

# Set by run_worker before the pool forks; each child makes its own engine (never a forked one).
_worker_settings: Settings | None = None
_engine_pid: tuple[int, Engine] | None = None


def _engine() -> Engine:
    global _engine_pid
    if _engine_pid is None or _engine_pid[0] != os.getpid():
        assert _worker_settings is not None, "run_worker sets the settings"
        _engine_pid = (os.getpid(), make_engine(_worker_settings.database_url))
    return _engine_pid[1]


def _read_page_task(job: str, task: Any, ctx: PageContext) -> str:
    assert _worker_settings is not None
    return read_page(_engine(), job, task, ctx, max_attempts=_worker_settings.distributed.max_attempts)


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
        row.worker = f"{socket.gethostname()}:{os.getpid()}"
        row.updated_at = utcnow()
    try:
        outcome = process_page(task, ctx)
    except Exception as e:  # noqa: BLE001 - a bug in a stage fails the page, not the worker
        log.exception("page worker crashed")
        outcome = PageOutcome(task.number, error=f"internal error while reading a page ({type(e).__name__})")
    with session_scope(writer) as session:
        row = session.get(PageJobRow, key, with_for_update=True)
        if row is None or row.job != job or row.state in ("done", "failed"):
            return "already"  # stored by another delivery meanwhile: stored once
        row.state = "done"
        row.result = pickle.dumps(outcome)
        row.error = outcome.error
        row.updated_at = utcnow()
    return "done"


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


# -- the submitting side --------------------------------------------------------------------------


class CeleryExecutor(Executor):
    """Sends ``process_page(task, ctx)`` calls to Celery workers; futures resolve from page_jobs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app = make_celery(settings)
        self._engine: Engine | None = None
        self._pending: dict[tuple[str, int], Future[Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if fn is not process_page or kwargs or len(args) != 2:
            raise TypeError("CeleryExecutor runs process_page(task, ctx) only")
        task, ctx = args
        key = (task.source.sha256, task.number)  # type: ignore[attr-defined]
        job = uuid.uuid4().hex
        engine = self._db()
        with session_scope(write_engine(engine)) as session:
            session.execute(
                delete(PageJobRow).where(PageJobRow.source_sha256 == key[0], PageJobRow.page == key[1])
            )
            session.add(PageJobRow(source_sha256=key[0], page=key[1], job=job, state="queued", attempts=0))
        future: Future[T] = Future()
        with self._lock:
            self._pending[key] = future
        self._app.send_task(TASK_NAME, args=(job, task, ctx), queue=QUEUE)
        self._start_poller()
        return future

    def _db(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self._settings.database_url)
        return self._engine

    def _start_poller(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="page-jobs", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self._settings.distributed.poll_seconds):
            try:
                self._collect()
            except Exception:  # noqa: BLE001 - the database may be briefly away: try again
                log.exception("cannot read page jobs")

    def _collect(self) -> None:
        with self._lock:
            keys = list(self._pending)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            with session_scope(write_engine(self._db())) as session:
                rows = session.execute(
                    select(PageJobRow.source_sha256, PageJobRow.page, PageJobRow.state)
                    .where(tuple_(PageJobRow.source_sha256, PageJobRow.page).in_(chunk))
                    .where(PageJobRow.state.in_(("done", "failed")))
                ).all()
                for sha, page, state in rows:
                    row = session.get(PageJobRow, (sha, page))
                    assert row is not None
                    if state == "done" and row.result is not None:
                        outcome = pickle.loads(row.result)  # noqa: S301 - written by our own workers
                    else:
                        outcome = PageOutcome(page, error=row.error or f"page {page}: failed")
                    row.result = None  # read once: the page_jobs row keeps the state only
                    with self._lock:
                        future = self._pending.pop((sha, page), None)
                    if future is not None:
                        future.set_result(outcome)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            while True:
                with self._lock:
                    if not self._pending:
                        break
                self._stop.wait(self._settings.distributed.poll_seconds)
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
        if self._engine is not None:
            self._engine.dispose()


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


def queue_status(settings: Settings, engine: Engine) -> QueueStatus:
    """Pages queued, in flight, done and failed per worker (page_jobs), and the broker's queue length."""
    counts: dict[str, dict[str, int]] = {}
    with session_scope(engine) as session:
        for worker, state, n in session.execute(
            select(PageJobRow.worker, PageJobRow.state, func.count()).group_by(
                PageJobRow.worker, PageJobRow.state
            )
        ):
            counts.setdefault(worker or "-", {})[state] = n
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
    )
