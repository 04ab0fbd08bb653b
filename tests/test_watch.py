"""The watched inbox: stability tracking, candidate filtering and the watch loop."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from watchdog.observers.polling import PollingObserver

from chartclerk.ingest import watch
from chartclerk.ingest.watch import StabilityTracker, is_candidate, path_tag, watch_inbox
from chartclerk.settings import WatchSettings

STABLE = 0.2
POLL = 0.05
DEADLINE = 5.0


# --- StabilityTracker (fake clock, fake stat) --------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeFs:
    """A stat function over an in-memory table of path -> (size, mtime_ns, mode)."""

    def __init__(self) -> None:
        self.files: dict[Path, tuple[int, int, int]] = {}

    def put(self, path: Path, size: int, mtime_ns: int, mode: int = stat.S_IFREG | 0o644) -> None:
        self.files[path] = (size, mtime_ns, mode)

    def __call__(self, path: Path) -> os.stat_result:
        try:
            size, mtime_ns, mode = self.files[path]
        except KeyError:
            raise FileNotFoundError(path) from None
        return os.stat_result((mode, 0, 0, 1, 0, 0, size, 0, mtime_ns // 10**9, 0), {"st_mtime_ns": mtime_ns})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fs() -> FakeFs:
    return FakeFs()


def test_tracker_ready_once_unchanged_for_stable_seconds(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(2.0, clock=clock, stat=fs)
    a = Path("/in/a.pdf")
    fs.put(a, 100, 1)
    tracker.touch(a)
    assert tracker.ready() == []
    clock.now += 1.9
    assert tracker.ready() == []
    clock.now += 0.1
    assert tracker.ready() == [a]
    assert tracker.ready() == [a], "stays ready until discarded"
    tracker.discard(a)
    assert tracker.ready() == []
    assert a not in tracker


def test_tracker_growing_file_resets_timer(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(2.0, clock=clock, stat=fs)
    a = Path("/in/a.pdf")
    fs.put(a, 0, 1)
    tracker.touch(a)
    for step in range(1, 5):
        clock.now += 1.5
        fs.put(a, step * 1000, step + 1)  # grows and its mtime moves
        assert tracker.ready() == []
    clock.now += 1.9
    assert tracker.ready() == []
    clock.now += 0.1
    assert tracker.ready() == [a]


def test_tracker_mtime_change_alone_resets_timer(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(1.0, clock=clock, stat=fs)
    a = Path("/in/a.pdf")
    fs.put(a, 10, 1)
    tracker.touch(a)
    clock.now += 0.9
    fs.put(a, 10, 2)  # rewritten in place, same size
    assert tracker.ready() == []
    clock.now += 0.9
    assert tracker.ready() == []
    clock.now += 0.1
    assert tracker.ready() == [a]


def test_tracker_touch_restarts_timer(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(1.0, clock=clock, stat=fs)
    a = Path("/in/a.pdf")
    fs.put(a, 10, 1)
    tracker.touch(a)
    clock.now += 0.9
    tracker.touch(a)
    clock.now += 0.9
    assert tracker.ready() == []
    clock.now += 0.1
    assert tracker.ready() == [a]


def test_tracker_drops_vanished_and_non_regular_files(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(1.0, clock=clock, stat=fs)
    a, b, c = Path("/in/a.pdf"), Path("/in/b.pdf"), Path("/in/c.pdf")
    for p in (a, b, c):
        fs.put(p, 10, 1)
        tracker.touch(p)
    del fs.files[a]
    fs.put(b, 10, 1, mode=stat.S_IFLNK | 0o777)  # replaced by a symlink
    clock.now += 1.0
    assert tracker.ready() == [c]
    assert len(tracker) == 1
    fs.put(a, 10, 1)
    clock.now += 5
    assert tracker.ready() == [c], "a dropped file is not resurrected without a new touch"


def test_tracker_touch_of_missing_file_registers_nothing(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(1.0, clock=clock, stat=fs)
    tracker.touch(Path("/in/gone.pdf"))
    assert len(tracker) == 0


def test_tracker_zero_byte_file_must_be_stable_too(clock: FakeClock, fs: FakeFs) -> None:
    tracker = StabilityTracker(1.0, clock=clock, stat=fs)
    a = Path("/in/empty.pdf")
    fs.put(a, 0, 1)
    tracker.touch(a)
    assert tracker.ready() == []
    clock.now += 1.0
    assert tracker.ready() == [a]


def test_tracker_returns_oldest_first_with_real_files(tmp_path: Path, clock: FakeClock) -> None:
    tracker = StabilityTracker(1.0, clock=clock)
    paths = [tmp_path / name for name in ("c.pdf", "a.pdf", "b.pdf")]
    for p in paths:
        p.write_bytes(b"x")
        tracker.touch(p)
    clock.now += 1.0
    assert tracker.ready() == paths


# --- is_candidate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.pdf",
        "._scan.pdf",
        "~$report.docx",
        ".~lock.scan.odt#",
        "scan.tmp",
        "scan.pdf.part",
        "scan.pdf.crdownload",
        "scan.PARTIAL",
        ".scan.pdf.swp",
        "scan.swp",
        "Thumbs.db",
        "thumbs.db",
        "desktop.ini",
        ".DS_Store",
    ],
)
def test_temporary_and_hidden_names_are_not_candidates(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    assert not is_candidate(tmp_path / name, tmp_path)


@pytest.mark.parametrize("name", ["scan.pdf", "Scan 01.TIF", "doe~john.png", "a.tmp.pdf", "noextension"])
def test_ordinary_files_are_candidates(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    assert is_candidate(tmp_path / name, tmp_path)


def test_files_in_subfolders_are_candidates_but_not_in_hidden_ones(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "ward 3" / "2024").mkdir(parents=True)
    (inbox / "ward 3" / "2024" / "scan.pdf").write_bytes(b"x")
    (inbox / ".stversions").mkdir()
    (inbox / ".stversions" / "scan.pdf").write_bytes(b"x")
    (inbox / "@eaDir").mkdir()
    (inbox / "@eaDir" / "thumb.jpg").write_bytes(b"x")
    assert is_candidate(inbox / "ward 3" / "2024" / "scan.pdf", inbox)
    assert not is_candidate(inbox / ".stversions" / "scan.pdf", inbox)
    assert not is_candidate(inbox / "@eaDir" / "thumb.jpg", inbox)


def test_symlinks_directories_and_outside_files_are_not_candidates(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    outside = tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    secret = outside / "secret.pdf"
    secret.write_bytes(b"x")
    inside = inbox / "real.pdf"
    inside.write_bytes(b"x")
    (inbox / "link-out.pdf").symlink_to(secret)
    (inbox / "link-in.pdf").symlink_to(inside)
    (inbox / "linked-folder").symlink_to(outside, target_is_directory=True)
    (inbox / "folder.pdf").mkdir()
    os.mkfifo(inbox / "pipe.pdf")

    assert is_candidate(inside, inbox)
    assert not is_candidate(inbox / "link-out.pdf", inbox)
    assert not is_candidate(inbox / "link-in.pdf", inbox)
    assert not is_candidate(inbox / "linked-folder" / "secret.pdf", inbox), "followed a symlink out"
    assert not is_candidate(inbox / "folder.pdf", inbox)
    assert not is_candidate(inbox / "pipe.pdf", inbox)
    assert not is_candidate(secret, inbox)
    assert not is_candidate(inbox / ".." / "outside" / "secret.pdf", inbox)
    assert not is_candidate(inbox, inbox)
    assert not is_candidate(inbox / "missing.pdf", inbox)


def test_candidate_through_symlinked_inbox(tmp_path: Path) -> None:
    real = tmp_path / "real-inbox"
    real.mkdir()
    (real / "scan.pdf").write_bytes(b"x")
    link = tmp_path / "inbox"
    link.symlink_to(real, target_is_directory=True)
    assert is_candidate(link / "scan.pdf", link)
    assert is_candidate(real / "scan.pdf", link)


def test_path_tag_is_short_stable_and_hides_the_name() -> None:
    tag = path_tag(Path("/inbox/DOE_JOHN_1970-01-01.pdf"))
    assert tag == path_tag("/inbox/DOE_JOHN_1970-01-01.pdf")
    assert len(tag) == 12
    assert int(tag, 16) >= 0
    assert "DOE" not in tag.upper()
    assert tag != path_tag(Path("/inbox/DOE_JANE_1970-01-01.pdf"))


# --- watch_inbox -------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


@dataclass
class Recorder:
    """A handler that records (name, size, time) and moves the file out of the inbox."""

    done: Path
    fail_on: frozenset[str] = frozenset()
    leave: frozenset[str] = frozenset()
    calls: list[tuple[str, int, float]] = field(default_factory=list)

    def __call__(self, path: Path) -> None:
        self.calls.append((path.name, path.stat().st_size, time.monotonic()))
        if path.name in self.fail_on:
            raise RuntimeError(f"cannot read {path.name}")
        if path.name not in self.leave:
            path.rename(self.done / path.name)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def saw(self, name: str) -> bool:
        return name in self.names()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    (tmp_path / "done").mkdir()
    return Recorder(tmp_path / "done")


@contextlib.contextmanager
def watching(
    inbox: Path,
    handler: Callable[[Path], None],
    *,
    polling: bool = False,
    stable: float = STABLE,
    rescan_seconds: float = 30.0,
) -> Iterator[threading.Thread]:
    settings = WatchSettings(stable_seconds=stable, poll_interval_seconds=POLL, polling=polling)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            # One file a time, as the handler takes them (the batches are tested below).
            watch_inbox(inbox, settings, lambda paths: handler(paths[0]), stop, rescan_seconds=rescan_seconds)
        except BaseException as e:  # reported to the test below
            errors.append(e)

    thread = threading.Thread(target=run, name="test-watch", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert not thread.is_alive(), "watcher did not stop"
    assert errors == []


def drop(path: Path, data: bytes = b"%PDF-1.7 scan") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_slowly_written_file_is_handled_once_after_its_last_write(inbox: Path, recorder: Recorder) -> None:
    chunk = b"x" * 4096
    with watching(inbox, recorder, stable=0.3):
        drop(inbox / "ready.pdf")
        wait_for(lambda: recorder.saw("ready.pdf"))  # the watcher is up
        with (inbox / "slow.pdf").open("wb") as f:
            for _ in range(6):
                f.write(chunk)
                f.flush()
                last_write = time.monotonic()
                time.sleep(0.1)  # pacing the writer, not waiting for the watcher
        wait_for(lambda: recorder.saw("slow.pdf"))
        drop(inbox / "after.pdf")  # handled later than any repeat of slow.pdf would be
        wait_for(lambda: recorder.saw("after.pdf"))
    slow = [(size, at) for name, size, at in recorder.calls if name == "slow.pdf"]
    assert len(slow) == 1
    size, at = slow[0]
    assert size == 6 * len(chunk)
    assert at >= last_write + 0.3
    assert (recorder.done / "slow.pdf").stat().st_size == 6 * len(chunk)


def test_files_present_at_start_are_handled(inbox: Path, recorder: Recorder) -> None:
    drop(inbox / "a.pdf")
    drop(inbox / "ward" / "b.tif")
    drop(inbox / "c.pdf.part")
    drop(inbox / ".hidden.pdf")
    drop(inbox / ".Trash-1000" / "old.pdf")
    drop(inbox / "empty.pdf", b"")
    with watching(inbox, recorder):
        wait_for(lambda: len(recorder.calls) >= 3)
        drop(inbox / "sentinel.pdf")
        wait_for(lambda: recorder.saw("sentinel.pdf"))
    assert sorted(recorder.names()) == ["a.pdf", "b.tif", "empty.pdf", "sentinel.pdf"]
    assert (inbox / "c.pdf.part").exists()


def test_file_renamed_into_place_from_part_name_is_handled(inbox: Path, recorder: Recorder) -> None:
    with watching(inbox, recorder):
        drop(inbox / "first.pdf")
        wait_for(lambda: recorder.saw("first.pdf"))
        part = drop(inbox / "scan.pdf.part", b"%PDF" + b"y" * 10_000)
        drop(inbox / "second.pdf")
        wait_for(lambda: recorder.saw("second.pdf"))
        assert not recorder.saw("scan.pdf.part")
        part.rename(inbox / "scan.pdf")
        wait_for(lambda: recorder.saw("scan.pdf"))
    assert recorder.names().count("scan.pdf") == 1
    assert recorder.calls[-1][1] == 10_004


def test_polling_mode_handles_new_files(inbox: Path, recorder: Recorder) -> None:
    with watching(inbox, recorder, polling=True):
        drop(inbox / "first.pdf")
        wait_for(lambda: recorder.saw("first.pdf"))
        drop(inbox / "sub" / "second.pdf")
        wait_for(lambda: recorder.saw("second.pdf"))
    assert recorder.names() == ["first.pdf", "second.pdf"]


def test_rescan_finds_files_whose_events_were_missed(
    inbox: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch._EventFeed, "on_any_event", lambda self, event: None)
    drop(inbox / "initial.pdf")
    with watching(inbox, recorder, rescan_seconds=0.3):
        wait_for(lambda: recorder.saw("initial.pdf"))  # the initial scan is over
        drop(inbox / "late.pdf")
        wait_for(lambda: recorder.saw("late.pdf"))
    assert recorder.names() == ["initial.pdf", "late.pdf"]


def test_falls_back_to_polling_when_native_events_fail(
    inbox: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class NoInotify(PollingObserver):
        def start(self) -> None:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watch, "Observer", NoInotify)
    caplog.set_level(logging.INFO, logger="chartclerk.ingest.watch")
    with watching(inbox, recorder):
        wait_for(inbox.is_dir)
        drop(inbox / "first.pdf")
        wait_for(lambda: recorder.saw("first.pdf"))
    assert "polling the inbox instead" in caplog.text
    assert "(polling," in caplog.text


def test_failing_handler_does_not_stop_the_next_file_nor_leak_the_name(
    inbox: Path, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chartclerk.ingest.watch")
    recorder.fail_on = frozenset({"DOE_JOHN.pdf"})
    with watching(inbox, recorder, rescan_seconds=0.1):
        drop(inbox / "DOE_JOHN.pdf")
        wait_for(lambda: recorder.saw("DOE_JOHN.pdf"))
        drop(inbox / "next.pdf")
        wait_for(lambda: recorder.saw("next.pdf"))
        drop(inbox / "last.pdf")
        wait_for(lambda: recorder.saw("last.pdf"))
    assert recorder.names() == ["DOE_JOHN.pdf", "next.pdf", "last.pdf"], "the failed file was retried"
    assert (inbox / "DOE_JOHN.pdf").exists()
    assert "RuntimeError" in caplog.text
    assert path_tag(inbox.resolve() / "DOE_JOHN.pdf") in caplog.text
    assert "DOE" not in caplog.text


def test_file_left_in_place_is_handled_again_only_after_it_changes(inbox: Path, recorder: Recorder) -> None:
    recorder.leave = frozenset({"keep.pdf"})
    with watching(inbox, recorder, rescan_seconds=0.1):
        keep = drop(inbox / "keep.pdf")
        wait_for(lambda: recorder.saw("keep.pdf"))
        drop(inbox / "other.pdf")
        wait_for(lambda: recorder.saw("other.pdf"))
        assert recorder.names().count("keep.pdf") == 1
        with keep.open("ab") as f:
            f.write(b" more pages")
        wait_for(lambda: recorder.names().count("keep.pdf") == 2)
    assert recorder.calls[-1][1] == len(b"%PDF-1.7 scan more pages")


def test_inbox_is_created_and_stop_ends_the_watcher_promptly(inbox: Path, recorder: Recorder) -> None:
    with watching(inbox, recorder, stable=5.0) as thread:
        wait_for(inbox.is_dir)
        drop(inbox / "pending.pdf")  # not yet stable when stop is set
    assert not thread.is_alive()
    assert recorder.calls == []


def test_files_ready_together_are_handed_over_in_batches(inbox: Path, recorder: Recorder) -> None:
    """Up to ``batch`` files ready at once go to the handler in one call (their pages are then
    read side by side); a handler that fails a batch stops neither the watcher nor later files."""
    for i in range(7):
        drop(inbox / f"fax{i}.pdf")
    batches: list[list[str]] = []
    failed_once: list[bool] = []

    def handle(paths: list[Path]) -> None:
        batches.append([p.name for p in paths])
        if not failed_once:
            failed_once.append(True)
            raise RuntimeError("the first batch fails")
        for path in paths:
            recorder(path)

    settings = WatchSettings(stable_seconds=STABLE, poll_interval_seconds=POLL)
    stop = threading.Event()
    thread = threading.Thread(target=watch_inbox, args=(inbox, settings, handle, stop), kwargs={"batch": 3})
    thread.start()
    try:
        wait_for(lambda: bool(batches) and len(recorder.calls) == 7 - len(batches[0]))
        # Seven files ready together (all scanned at start): batches of at most 3, each file once.
        assert all(len(b) <= 3 for b in batches) and max(len(b) for b in batches) == 3
        assert sorted(name for b in batches for name in b) == [f"fax{i}.pdf" for i in range(7)]
        # The failed batch's files are left in the inbox as they were, until they change.
        assert sorted(p.name for p in inbox.iterdir()) == sorted(batches[0])
        for name in batches[0]:
            drop(inbox / name, b"%PDF-1.7 scan, sent again")
        wait_for(lambda: len(recorder.calls) == 7)
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert sorted(recorder.names()) == [f"fax{i}.pdf" for i in range(7)]
    assert list(inbox.iterdir()) == []


def test_batch_must_be_positive(inbox: Path) -> None:
    with pytest.raises(ValueError, match="batch"):
        watch_inbox(inbox, WatchSettings(), lambda paths: None, threading.Event(), batch=0)
