"""Executors that run per-page work: a process pool in production, Celery workers when a
broker is configured, a serial executor in tests and for one-page jobs.

:func:`make_executor` is the one place that picks between the local pool and Celery; the
pipeline sees a ``concurrent.futures.Executor`` either way, and runs it as a
``chartclerk.pipeline.FileRunner``: the Celery one is its own (its workers assemble files),
any other is run by ``LocalFiles`` (this process assembles)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing import forkserver
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from chartclerk.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


class SerialExecutor(Executor):
    """Runs each call at submit time in this process."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(e)
        return future


def _init_worker() -> None:
    # One single-threaded tesseract per core: OpenMP threads made it 6.5x slower here.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    # The same for OpenCV's own thread pool: each worker keeps to its one core.
    import cv2

    cv2.setNumThreads(1)
    # Ctrl-C is handled by the parent, which shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_pool(workers: int) -> Executor:
    """A pool of ``workers`` processes, started with forkserver so that threads of
    the parent (the watcher's observer) are never forked."""
    context: Any = multiprocessing.get_context("forkserver")
    # The forkserver imports the page worker (OpenCV, pikepdf...) once; each worker
    # forked from it starts ready instead of paying a second of imports.
    context.set_forkserver_preload(["chartclerk.page_worker"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    # Start the forkserver now rather than at the first page: its second of imports
    # then runs on the other core while this process opens the archive.
    forkserver.ensure_running()
    return pool


def make_executor(settings: Settings) -> Executor:
    """Celery workers (chartclerk.distributed) when ``settings.broker`` is set, else a local
    pool of ``settings.workers`` processes."""
    if settings.broker is not None:
        from chartclerk.distributed import CeleryExecutor

        return CeleryExecutor(settings)
    return make_pool(settings.workers)
