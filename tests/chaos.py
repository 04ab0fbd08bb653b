"""Crash and concurrency harness shared by tests/test_reliability.py and bench/chaos.py.

Drives the real ``chartclerk`` command in subprocesses, kills its whole process group
(the OCR pool workers too) with SIGKILL at random moments, reruns it, and checks what the
archive holds afterwards against what was put in. Pages are tiny (three lines of text at
100 dpi) so that OCR takes about 0.2 s a page.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chartclerk.tests.scans import FONTS, separator_sheet, write_jpeg, write_pdf, write_png, write_tiff

CLI = str(Path(sys.executable).parent / "chartclerk")
DPI = 100

# Tiny pages are read at their own resolution (no upscaling), inbox files taken after 0.3 s.
CONFIG = """\
inbox: inbox
archive: archive
database: null
workers: 2
ingest:
  dpi: 100
ocr:
  min_dpi: 70
  target_dpi: 150
watch:
  stable_seconds: 0.3
  poll_interval_seconds: 0.1
"""

_WORDS = ("stable", "improving", "reviewed", "afebrile", "ambulatory", "discharged", "tolerating diet")


def tiny_page(index: int) -> np.ndarray:
    """A 4 x 1.6 inch page at 100 dpi with three lines of text (no patient identifiers)."""
    image = Image.new("L", (400, 160), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONTS["DejaVuSans"][0]), 14)
    lines = (
        f"Progress note {index}",
        f"Patient {_WORDS[index % len(_WORDS)]} today.",
        f"Follow up in {index % 9 + 1} weeks.",
    )
    for row, line in enumerate(lines):
        draw.text((20, 20 + 40 * row), line, font=font, fill=0)
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Expected:
    """A scan put in, by content: how many documents it must yield."""

    name: str
    sha256: str
    documents: int


def write_tiny_corpus(folder: Path, count: int, *, start: int = 0) -> list[Expected]:
    """``count`` scans in PNG, JPEG, TIFF and PDF; every fifth is a PDF of two documents
    split by a separator sheet (so a crash can fall between a file's documents)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Expected] = []
    for i in range(start, start + count):
        page = tiny_page(i)
        kind = i % 5
        if kind == 4:
            path = folder / f"batch-{i:03d}.pdf"
            write_pdf(
                path, [page, separator_sheet("PATCHT", kind="qr", dpi=DPI), tiny_page(i + 1000)], dpi=DPI
            )
            docs = 2
        else:
            path = folder / f"scan-{i:03d}.{('png', 'jpg', 'tif', 'pdf')[kind]}"
            writer = (write_png, write_jpeg, None, None)[kind]
            if writer is not None:
                writer(path, page, dpi=DPI)
            elif kind == 2:
                write_tiff(path, [page], dpi=DPI)
            else:
                write_pdf(path, [page], dpi=DPI)
            docs = 1
        out.append(Expected(path.name, hashlib.sha256(path.read_bytes()).hexdigest(), docs))
    return out


def make_site(root: Path) -> Path:
    """A folder with config.yaml (inbox/ and archive/ beside it); returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def start(config: Path, *args: str) -> subprocess.Popen[bytes]:
    """``chartclerk --config CONFIG ARGS...`` in its own process group (session)."""
    return subprocess.Popen(
        [CLI, "--config", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and every process in its group (the pool workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    _reap_group(proc.pid)


def _reap_group(pgid: int, timeout: float = 10.0) -> None:
    """Wait until no process of the group is left (workers reparented to init die too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


class GroupMemory:
    """Peak resident memory (VmHWM) of any process in a process group: the CLI, its OCR
    workers and their tesseract and pdftoppm children, sampled from /proc every 50 ms."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> GroupMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    self.peak_kb = max(self.peak_kb, _hwm_kb(proc, self.pgid))
            self._stop.wait(0.05)


def _hwm_kb(proc: Path, pgid: int) -> int:
    try:
        stat = (proc / "stat").read_text()
        if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:  # field 5: process group
            return 0
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_measured(config: Path, *args: str, timeout: float = 300) -> tuple[int, str, int]:
    """Run a command to its end: (exit code, stderr, peak memory of its process group in kB)."""
    proc = start(config, *args)
    with GroupMemory(proc.pid) as memory:
        _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode(errors="replace"), memory.peak_kb


def run(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--config", str(config), *args], capture_output=True, text=True, timeout=timeout
    )


@dataclass
class KillStats:
    attempts: int = 0
    killed: int = 0  # killed while still running
    finished_first: int = 0  # the run ended before its kill came
    delays: list[float] = field(default_factory=list)
    # What the kills left behind (evidence they hit mid-work): sources cut off between their
    # original and their last document, files in tmp/, PDFs in documents/ without a row.
    partial_sources: int = 0
    tmp_files: int = 0
    orphan_pdfs: int = 0

    def note(self, config: Path) -> None:
        partial, tmp, orphans = leftovers(config)
        self.partial_sources += partial
        self.tmp_files += tmp
        self.orphan_pdfs += orphans


def leftovers(config: Path) -> tuple[int, int, int]:
    """(partial sources, files in tmp/, document PDFs without a row) right after a kill."""
    archive = config.parent / "archive"
    db_file = archive / "chartclerk.db"
    if not db_file.exists():
        return 0, 0, 0
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as db:
            partial = int(db.execute("SELECT count(*) FROM sources WHERE status = 'partial'").fetchone()[0])
            paths = {row[0] for row in db.execute("SELECT pdf_path FROM documents")}
    except sqlite3.Error:  # killed before the schema was made
        return 0, 0, 0
    tmp = sum(1 for p in (archive / "tmp").rglob("*") if p.is_file())
    orphans = sum(
        1 for p in (archive / "documents").rglob("*.pdf") if p.relative_to(archive).as_posix() not in paths
    )
    return partial, tmp, orphans


def kill_ingest_repeatedly(
    config: Path,
    paths: Sequence[Path],
    kills: int,
    rng: random.Random,
    max_delay: float,
    min_delay: float = 0.2,
) -> KillStats:
    """Start ``ingest PATHS`` and SIGKILL it after a random delay, ``kills`` times."""
    stats = KillStats()
    for _ in range(kills):
        delay = rng.uniform(min_delay, max_delay)
        proc = start(config, "ingest", *map(str, paths))
        stats.attempts += 1
        stats.delays.append(round(delay, 2))
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            stats.killed += 1
        else:
            stats.finished_first += 1
        kill_group(proc)
        stats.note(config)
    return stats


def kill_watch_repeatedly(
    config: Path,
    inbox: Path,
    kills: int,
    rng: random.Random,
    max_delay: float,
    drops: Sequence[Sequence[Path]] = (),
) -> KillStats:
    """Start ``watch`` and SIGKILL it after a random delay, ``kills`` times; before restart
    ``i``, move the files ``drops[i]`` into the inbox (files dropped while it was down)."""
    stats = KillStats()
    for i in range(kills):
        if i < len(drops):
            for path in drops[i]:
                path.rename(inbox / path.name)
        delay = rng.uniform(0.5, max_delay)
        proc = start(config, "watch")
        stats.attempts += 1
        stats.delays.append(round(delay, 2))
        time.sleep(delay)
        stats.killed += proc.poll() is None
        kill_group(proc)
        stats.note(config)
    for batch in drops[kills:]:
        for path in batch:
            path.rename(inbox / path.name)
    return stats


def watch_until_empty(config: Path, inbox: Path, deadline_s: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``watch`` until no scan is left in the inbox, then stop it with SIGTERM."""
    proc = start(config, "watch")
    deadline = time.monotonic() + deadline_s
    try:
        while any(p.is_file() for p in inbox.rglob("*")):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("the watcher did not empty the inbox")
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        _reap_group(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err.decode(errors="replace"))


@dataclass(frozen=True, slots=True)
class Check:
    """What the archive holds against what was put in."""

    expected_files: int
    expected_documents: int
    lost: tuple[str, ...]  # names of scans missing, incomplete or short of documents
    duplicates: int  # documents beyond those expected
    documents: int
    tmp_leftovers: int
    integrity: str  # PRAGMA integrity_check
    verify_exit: int
    verify_output: str

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and self.duplicates == 0
            and self.documents == self.expected_documents
            and self.tmp_leftovers == 0
            and self.integrity == "ok"
            and self.verify_exit == 0
        )


def check_archive(config: Path, expected: Sequence[Expected]) -> Check:
    archive = config.parent / "archive"
    with sqlite3.connect(f"file:{archive / 'chartclerk.db'}?mode=ro", uri=True) as db:
        integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
        status = dict(db.execute("SELECT sha256, status FROM sources").fetchall())
        per_source = dict(
            db.execute("SELECT source_sha256, count(*) FROM documents GROUP BY source_sha256").fetchall()
        )
        documents = int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    wanted = {e.sha256: e for e in expected}
    lost = tuple(
        e.name
        for e in expected
        if status.get(e.sha256) != "complete" or per_source.get(e.sha256, 0) < e.documents
    )
    duplicates = sum(max(0, n - wanted[sha].documents) for sha, n in per_source.items() if sha in wanted)
    duplicates += sum(n for sha, n in per_source.items() if sha not in wanted)
    verify = run(config, "verify")
    return Check(
        expected_files=len(wanted),
        expected_documents=sum(e.documents for e in wanted.values()),
        lost=lost,
        duplicates=duplicates,
        documents=documents,
        tmp_leftovers=sum(1 for _ in (archive / "tmp").rglob("*")),
        integrity=integrity,
        verify_exit=verify.returncode,
        verify_output=(verify.stdout + verify.stderr).strip(),
    )
