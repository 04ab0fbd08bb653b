"""Reliability benchmark: SIGKILL `chartclerk ingest` and `chartclerk watch` at random moments,
rerun, and count what was lost or duplicated; then feed the hostile-input corpus to the inbox.

Run from the repository root: ``.venv/bin/python bench/chaos.py [--kills 20] [--files 30]``.
Each kill round writes a fresh backlog of tiny scans (three lines of text at 100 dpi; every
fifth file is two documents split by a separator sheet), kills the whole process group
(CLI and OCR workers) after a random delay, reruns to completion and checks the archive:
every file archived exactly once, as many documents as were put in, `chartclerk verify`
clean, nothing left in archive/tmp, SQLite's integrity check ok. Kills are spread over
`ingest` (three quarters) and `watch` (one quarter, with files dropped while it is down).
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chartclerk.pipeline import handle_inbox_file
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.tests.badinputs import write_bad_inputs
from chartclerk.tests.chaos import (
    Check,
    KillStats,
    check_archive,
    kill_ingest_repeatedly,
    kill_watch_repeatedly,
    make_site,
    run_measured,
    watch_until_empty,
    write_tiny_corpus,
)
from chartclerk.workers import SerialExecutor


@dataclass
class Tally:
    rounds: int = 0
    kills: int = 0  # processes killed while running
    ended_before_kill: int = 0
    survived: int = 0  # rounds whose archive was whole after the rerun
    partial_sources: int = 0  # found right after kills: the kills hit mid-file
    tmp_files: int = 0
    orphan_pdfs: int = 0
    peak_kb: int = 0  # largest process of an uninterrupted rerun (CLI, OCR worker, tesseract...)
    files: int = 0
    documents: int = 0
    lost: int = 0
    duplicates: int = 0
    verify_failures: int = 0
    tmp_leftovers: int = 0
    failures: list[str] = field(default_factory=list)

    def killed(self, stats: KillStats) -> None:
        self.kills += stats.killed
        self.ended_before_kill += stats.finished_first
        self.partial_sources += stats.partial_sources
        self.tmp_files += stats.tmp_files
        self.orphan_pdfs += stats.orphan_pdfs

    def add(self, label: str, check: Check) -> None:
        self.rounds += 1
        self.files += check.expected_files
        self.documents += check.documents
        self.lost += len(check.lost)
        self.duplicates += check.duplicates
        self.verify_failures += check.verify_exit != 0
        self.tmp_leftovers += check.tmp_leftovers
        if check.ok:
            self.survived += 1
        else:
            self.failures.append(f"{label}: {check}")


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="chartclerk-chaos-"))
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def ingest_round(root: Path, files: int, kills: int, rng: random.Random, tally: Tally) -> None:
    site = make_site(root)
    expected = write_tiny_corpus(root / "backlog", files)
    stats = kill_ingest_repeatedly(site, [root / "backlog"], kills, rng, max_delay=6.0)
    tally.killed(stats)
    code, err, peak_kb = run_measured(site, "ingest", str(root / "backlog"))
    tally.peak_kb = max(tally.peak_kb, peak_kb)
    if code != 0:
        tally.failures.append(f"ingest rerun exited {code}: {err.strip()[-300:]}")
    tally.add(f"ingest round (delays {stats.delays})", check_archive(site, expected))


def watch_round(root: Path, files: int, kills: int, rng: random.Random, tally: Tally) -> None:
    site = make_site(root)
    inbox = root / "inbox"
    expected = write_tiny_corpus(inbox, files - 4)
    later = write_tiny_corpus(root / "later", 4, start=500)
    drops = [[root / "later" / e.name for e in later[i::kills]] for i in range(kills)]
    stats = kill_watch_repeatedly(site, inbox, kills, rng, max_delay=5.0, drops=drops)
    tally.killed(stats)
    result = watch_until_empty(site, inbox)
    if result.returncode != 0:
        tally.failures.append(f"watch exited {result.returncode}: {result.stderr.strip()[-300:]}")
    failed = root / "failed"
    if failed.exists() and any(failed.iterdir()):
        tally.failures.append(f"watch round: {len(list(failed.iterdir()))} files in failed/")
    tally.add(f"watch round (delays {stats.delays})", check_archive(site, expected + later))


def bad_inputs(root: Path) -> tuple[int, int, float, list[str]]:
    """(tried, handled as expected, slowest seconds, problems)."""
    settings = load_settings(make_site(root))
    corpus = write_bad_inputs(settings.inbox, root / "outside")
    handled, slowest, problems = 0, 0.0, []
    with Archive.open(settings) as archive:
        for bad in corpus:
            started = time.monotonic()
            outcome = handle_inbox_file(bad.path, settings, archive, SerialExecutor())
            slowest = max(slowest, time.monotonic() - started)
            ok = outcome.status == bad.outcome and (
                bad.outcome == "archived" or bad.words in (outcome.error or "")
            )
            handled += ok
            if not ok:
                problems.append(f"{bad.kind}: {outcome.status} {outcome.error}")
        if not archive.verify().ok:
            problems.append("verify after the corpus: problems")
    return len(corpus), handled, slowest, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="processes to kill in all (default 20)")
    parser.add_argument("--files", type=int, default=30, help="scans per round (default 30)")
    parser.add_argument("--kills-per-round", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.monotonic()
    watch_kills = max(1, args.kills // 4)
    ingest_kills = max(1, args.kills - watch_kills)
    with workdir(args.keep) as work:
        round_no = 0
        while ingest_kills > 0:
            n = min(args.kills_per_round, ingest_kills)
            ingest_round(work / f"ingest-{round_no}", args.files, n, rng, tally)
            ingest_kills -= n
            round_no += 1
        while watch_kills > 0:
            n = min(2, watch_kills)
            watch_round(work / f"watch-{round_no}", args.files, n, rng, tally)
            watch_kills -= n
            round_no += 1
        tried, handled, slowest, problems = bad_inputs(work / "bad")
    tally.failures += problems
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    elapsed = time.monotonic() - started
    lines = [
        f"chaos: {args.kills} kills requested, seed {args.seed}, {args.files} scans a round, {elapsed:.0f} s",
        f"kills survived: {tally.kills} processes killed mid-run ({tally.ended_before_kill} runs ended "
        f"before their kill); {tally.survived}/{tally.rounds} rounds whole after the rerun",
        f"left by kills: {tally.partial_sources} half-archived sources, {tally.tmp_files} files in tmp/, "
        f"{tally.orphan_pdfs} PDFs without a row (seen after each kill; the rerun finished or removed them)",
        f"files: {tally.files} put in, {tally.documents} documents archived",
        f"files lost: {tally.lost}",
        f"duplicates: {tally.duplicates}",
        f"verify: {tally.verify_failures} rounds with problems, {tally.tmp_leftovers} files left in tmp/",
        f"bad inputs: {tried} tried, {handled} handled as expected (slowest {slowest:.2f} s)",
        f"peak memory: {tally.peak_kb / 1024:.0f} MB largest process of an ingest rerun (CLI, OCR worker, "
        f"tesseract, pdftoppm); {own:.0f} MB this process (it ran the bad-input corpus)",
    ]
    for line in lines:
        head, _, rest = line.partition(": ")
        print(f"{head + ':':<16}{rest}")
    for failure in tally.failures:
        print(f"FAILURE {failure}")
    ok = tally.lost == 0 and tally.duplicates == 0 and not tally.failures and handled == tried
    print(f"{'result:':<16}{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
