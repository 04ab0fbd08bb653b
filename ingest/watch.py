"""The watched inbox: notice scan files dropped into a folder and hand each one,
once it has stopped changing, to a handler (the pipeline).

Modelled on paperless-ngx's consume folder, without a framework:

* watchdog events (inotify, or polling for network shares) only *register*
  candidates; they never process a file.
* A :class:`StabilityTracker` decides when a file is complete: its size and
  mtime must be unchanged for ``stable_seconds`` on the monotonic clock.
* The calling thread hands ready files to ``handle`` one at a time; a failing
  handler is logged and the watcher carries on with the next file.
* A periodic full rescan catches files whose events were missed.

File names can contain patient names, so logs carry :func:`path_tag` (a short
hash of the path) and sizes/timings, never names or exception messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from chartclerk.ingest.discover import is_ignored_dir, is_ignored_name
from chartclerk.settings import WatchSettings

__all__ = [
    "DEFAULT_RESCAN_SECONDS",
    "StabilityTracker",
    "is_candidate",
    "is_ignored_name",
    "path_tag",
    "watch_inbox",
]

log = logging.getLogger(__name__)

DEFAULT_RESCAN_SECONDS = 30.0
_OBSERVER_JOIN_SECONDS = 10.0

# (st_size, st_mtime_ns): what "unchanged" means for a pending file.
Signature = tuple[int, int]
StatFn = Callable[[Path], os.stat_result]


def path_tag(path: Path | str) -> str:
    """A short, stable tag for a path that is safe to log (file names may hold PHI)."""
    return hashlib.sha1(os.fsencode(path), usedforsecurity=False).hexdigest()[:12]


def _inside(path: Path, root: Path) -> Path | None:
    """``path`` relative to the resolved ``root`` when it lies strictly inside it,
    following symlinks in the parent folders but not in the last component (a
    symlinked folder pointing out of the inbox therefore makes this None)."""
    try:
        real = path.parent.resolve(strict=True) / path.name
        rel = real.relative_to(root)
    except (OSError, RuntimeError, ValueError):  # missing, symlink loop (3.11: RuntimeError), outside
        return None
    if not rel.parts or any(is_ignored_dir(part) for part in rel.parts[:-1]):
        return None
    return rel


def is_candidate(path: Path, inbox: Path) -> bool:
    """True if ``path`` is a regular file (not a symlink) strictly inside ``inbox``
    (subfolders allowed, hidden/NAS metadata folders not) and its name is not that
    of a temporary, partial or hidden file."""
    if is_ignored_name(path.name):
        return False
    try:
        if path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
            return False
        root = inbox.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return _inside(path, root) is not None


def _lstat(path: Path) -> os.stat_result:
    return path.lstat()


def _signature(path: Path, stat_fn: StatFn = _lstat) -> Signature | None:
    """Size and mtime of a regular file; None if it is gone or not a regular file."""
    try:
        st = stat_fn(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True, slots=True)
class _Pending:
    signature: Signature
    since: float  # clock() when the signature was last seen to change (or the file was touched)


class StabilityTracker:
    """Candidate files waiting to stop changing.

    ``touch`` registers a file or restarts its timer (an event means someone is
    writing); ``ready`` re-reads every pending file's (size, mtime_ns) and returns
    those unchanged for ``stable_seconds`` that are still regular files, oldest
    first. A changed file restarts its timer; a vanished one (or one replaced by
    something that is not a regular file) is dropped. Ready files stay pending
    until ``discard``. Zero-byte files follow the same rule. Thread-safe.
    """

    def __init__(
        self,
        stable_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        stat: StatFn = _lstat,
    ) -> None:
        if stable_seconds < 0:
            raise ValueError("stable_seconds must not be negative")
        self._stable_seconds = stable_seconds
        self._clock = clock
        self._stat = stat
        self._pending: dict[Path, _Pending] = {}
        self._lock = threading.Lock()

    def touch(self, path: Path) -> None:
        signature = _signature(path, self._stat)
        with self._lock:
            if signature is None:
                self._pending.pop(path, None)
            else:
                self._pending[path] = _Pending(signature, self._clock())

    def ready(self) -> list[Path]:
        out: list[Path] = []
        with self._lock:
            now = self._clock()
            for path, pending in list(self._pending.items()):
                signature = _signature(path, self._stat)
                if signature is None:
                    del self._pending[path]
                elif signature != pending.signature:
                    self._pending[path] = _Pending(signature, now)
                elif now - pending.since >= self._stable_seconds:
                    out.append(path)
        return out

    def discard(self, path: Path) -> None:
        with self._lock:
            self._pending.pop(path, None)

    def __contains__(self, path: object) -> bool:
        with self._lock:
            return path in self._pending

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


class _EventFeed(FileSystemEventHandler):
    """Runs in watchdog's thread: only queues paths for the watching thread."""

    def __init__(self, sink: queue.SimpleQueue[Path]) -> None:
        super().__init__()
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type == EVENT_TYPE_MOVED:
            raw = event.dest_path
        elif event.event_type in (EVENT_TYPE_CREATED, EVENT_TYPE_CLOSED) or (
            event.event_type == EVENT_TYPE_MODIFIED and not event.is_directory
        ):
            raw = event.src_path
        else:  # deleted, opened, closed without writing, attrib, folder modified
            return
        if raw:
            self._sink.put(Path(os.fsdecode(raw)))


def _walk_files(directory: Path) -> Iterator[Path]:
    """Regular-file-looking entries under ``directory``, recursively, in name order,
    without following symlinked folders and skipping ignored folders."""
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            log.warning("cannot list inbox folder %s: %s", path_tag(current), type(e).__name__)
            continue
        folders: list[Path] = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not is_ignored_dir(entry.name):
                        folders.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield Path(entry.path)
            except OSError:
                continue
        stack.extend(reversed(folders))


def _start_observer(root: Path, settings: WatchSettings, feed: _EventFeed) -> BaseObserver:
    if not settings.polling:
        native = Observer()
        try:
            native.schedule(feed, str(root), recursive=True)
            native.start()
        except OSError as e:  # e.g. inotify watch/instance limits reached
            log.warning(
                "native file events unavailable (%s, errno %s); polling the inbox instead",
                type(e).__name__,
                e.errno,
            )
            with contextlib.suppress(Exception):
                native.stop()
        else:
            return native
    polling = PollingObserver(timeout=settings.poll_interval_seconds)
    polling.schedule(feed, str(root), recursive=True)
    polling.start()
    return polling


class _InboxWatcher:
    def __init__(
        self,
        root: Path,
        settings: WatchSettings,
        handle: Callable[[list[Path]], None],
        clock: Callable[[], float],
        batch: int,
    ) -> None:
        self.root = root
        self.handle = handle
        self.batch = batch
        self.events: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self.tracker = StabilityTracker(settings.stable_seconds, clock=clock)
        # Files left in the inbox by `handle`, with the signature they had: not
        # handled again until they change.
        self.handled: dict[Path, Signature] = {}

    def offer(self, path: Path, *, refresh: bool) -> None:
        """Register a path seen in an event or a scan. A folder (created or moved
        in) is scanned. ``refresh`` restarts the timer of an already pending file."""
        try:
            mode = path.lstat().st_mode
        except OSError:
            return
        if stat.S_ISDIR(mode):
            if path != self.root and _inside(path, self.root) is not None and not is_ignored_dir(path.name):
                self.scan(path)
            return
        if not is_candidate(path, self.root):
            return
        signature = _signature(path)
        if signature is None:
            return
        left = self.handled.get(path)
        if left is not None:
            if left == signature:
                return
            del self.handled[path]  # changed since it was handled: a new version
        if refresh or path not in self.tracker:
            self.tracker.touch(path)

    def scan(self, directory: Path) -> None:
        for path in _walk_files(directory):
            self.offer(path, refresh=False)

    def rescan(self) -> None:
        if not self.root.is_dir():
            log.warning("inbox folder %s is missing; waiting for it to return", path_tag(self.root))
            return
        for path, signature in list(self.handled.items()):
            if _signature(path) != signature:
                del self.handled[path]
        self.scan(self.root)

    def drain_events(self) -> None:
        seen: set[Path] = set()
        while True:
            try:
                path = self.events.get_nowait()
            except queue.Empty:
                return
            if path not in seen:  # a burst of writes to one file is one refresh
                seen.add(path)
                self.offer(path, refresh=True)

    def process_ready(self, stop: threading.Event) -> None:
        ready: list[tuple[Path, Signature]] = []
        for path in self.tracker.ready():
            if stop.is_set():
                break  # files taken but not handled stay in the inbox for the next run
            self.tracker.discard(path)
            signature = _signature(path)
            # Check again: a parent folder could have been swapped for a symlink.
            if signature is None or self.handled.get(path) == signature or not is_candidate(path, self.root):
                continue
            ready.append((path, signature))
            if len(ready) == self.batch:
                self._handle(ready)
                ready = []
        if ready and not stop.is_set():
            self._handle(ready)

    def _handle(self, files: list[tuple[Path, Signature]]) -> None:
        tags = " ".join(path_tag(path) for path, _ in files)
        size = sum(signature[0] for _, signature in files)
        started = time.monotonic()
        try:
            self.handle([path for path, _ in files])
        except Exception as e:  # one bad file never stops the watcher
            log.error(
                "inbox file(s) %s (%d bytes): handler failed with %s after %.2fs",
                tags,
                size,
                type(e).__name__,
                time.monotonic() - started,
            )
        else:
            log.info("inbox file(s) %s (%d bytes) handled in %.2fs", tags, size, time.monotonic() - started)
        for path, signature in files:
            after = _signature(path)
            if after is None:
                self.handled.pop(path, None)
            elif after == signature:
                self.handled[path] = signature
                log.warning(
                    "inbox file %s is still in the inbox; it is left alone until it changes", path_tag(path)
                )
            else:  # modified, or a new file already took its name: treat as new
                self.handled.pop(path, None)
                self.offer(path, refresh=True)


def watch_inbox(
    inbox: Path,
    settings: WatchSettings,
    handle: Callable[[list[Path]], None],
    stop: threading.Event,
    *,
    batch: int = 1,
    rescan_seconds: float = DEFAULT_RESCAN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Watch ``inbox`` (recursively) until ``stop`` is set, calling ``handle(paths)``
    in this thread with up to ``batch`` candidate files at a time (those ready together),
    each once it has been unchanged for ``settings.stable_seconds``: a batch lets the
    handler read the pages of several files side by side (many single-page faxes on many
    workers).

    ``handle`` should move the files out of the inbox (archived or quarantined).
    If it raises, the exception type is logged and the next files follow; a file
    it leaves in place is not handled again until it changes. Files already in
    the inbox are handled too, and the whole inbox is rescanned every
    ``rescan_seconds`` in case an event was missed. Creates the inbox if missing.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if rescan_seconds <= 0:
        raise ValueError("rescan_seconds must be positive")
    inbox.mkdir(parents=True, exist_ok=True)
    root = inbox.resolve(strict=True)
    watcher = _InboxWatcher(root, settings, handle, clock, batch)
    # Events first, then the initial scan: a file dropped in between is seen by one or both.
    observer = _start_observer(root, settings, _EventFeed(watcher.events))
    log.info(
        "watching inbox %s (%s, stable after %.1fs)",
        path_tag(root),
        "polling" if isinstance(observer, PollingObserver) else "native events",
        settings.stable_seconds,
    )
    try:
        watcher.rescan()
        next_rescan = clock() + rescan_seconds
        while not stop.is_set():
            watcher.drain_events()
            if clock() >= next_rescan:
                watcher.rescan()
                next_rescan = clock() + rescan_seconds
            watcher.process_ready(stop)
            stop.wait(settings.poll_interval_seconds)
    finally:
        observer.stop()
        observer.join(timeout=_OBSERVER_JOIN_SECONDS)
        if observer.is_alive():
            log.warning("file event observer did not stop within %.0fs", _OBSERVER_JOIN_SECONDS)
        log.info("stopped watching inbox %s", path_tag(root))
