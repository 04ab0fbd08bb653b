"""The watched inbox against ``ingest`` on a backlog of one-page files (faxes), one run.

    .venv/bin/python bench/watch.py [--files 16] [--workers 2] [--dpi 200] [--seed 5]

One-page scans of the held-out family (bench/heldout.py: other wording, layouts and fonts
than the tests') are archived twice into fresh SQLite archives with the same local pool:
by ``chartclerk ingest FOLDER`` (every file's pages in flight together: the reference), and
by ``chartclerk watch``, all files dropped into its inbox at once (renamed in, as a scanner
share does), timed from the drop until the inbox is empty. A watcher that takes one file at
a time keeps one worker busy on one-page files; one that takes the files ready together
(in batches of 2 x workers) should come close to ``ingest``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chartclerk.bench.distributed import make_backlog


def config(home: Path, name: str, workers: int) -> Path:
    path = home / f"{name}.yaml"
    path.write_text(
        f"inbox: {home / name / 'inbox'}\narchive: {home / name / 'archive'}\nworkers: {workers}\n"
        "watch:\n  stable_seconds: 0.3\n",
        encoding="utf-8",
    )
    return path


def cli(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "chartclerk.cli", "--config", str(cfg), *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cc-watch-"))
    try:
        faxes, _ = make_backlog(home / "faxes", args.files, args.dpi, args.seed, one_page=True)

        # ingest: the reference (start-up included, as the watcher's is not: it is already up)
        ingest_cfg = config(home, "ingest", args.workers)
        started = time.perf_counter()
        subprocess.run(cli(ingest_cfg, "ingest", str(home / "faxes")), check=True, capture_output=True)
        ingest_s = time.perf_counter() - started

        watch_cfg = config(home, "watch", args.workers)
        inbox = home / "watch" / "inbox"
        inbox.mkdir(parents=True)
        staging = home / "watch" / "staging"
        staging.mkdir()
        for fax in faxes:
            shutil.copy2(fax, staging / fax.name)
        log = (home / "watch.log").open("wb")
        watcher = subprocess.Popen(cli(watch_cfg, "watch"), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while b"watching" not in (home / "watch.log").read_bytes():  # up and scanning
                if time.monotonic() > deadline or watcher.poll() is not None:
                    raise SystemExit("the watcher did not start")
                time.sleep(0.05)
            started = time.perf_counter()
            for fax in faxes:
                (staging / fax.name).rename(inbox / fax.name)
            while any(inbox.iterdir()):
                if time.monotonic() > deadline + 600:
                    raise SystemExit("the watcher did not empty its inbox")
                time.sleep(0.05)
            watch_s = time.perf_counter() - started
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=60)
            log.close()
        archived = (home / "watch.log").read_text(encoding="utf-8").count("archived ")
        print(f"{args.files} one-page files (held-out family, {args.dpi} dpi), {args.workers} workers")
        print(f"  ingest   {ingest_s:6.1f} s  {args.files / ingest_s:5.2f} pages/s (start-up included)")
        print(f"  watch    {watch_s:6.1f} s  {args.files / watch_s:5.2f} pages/s (from the drop)")
        print(f"watch / ingest pages/s: {ingest_s / watch_s:.2f}; files the watcher archived: {archived}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
