"""Throughput benchmark: chartclerk ingest against raw tesseract and OCRmyPDF.

    .venv/bin/python bench/throughput.py [--pages 24] [--workers 2] [--repeat 2]
    .venv/bin/python bench/throughput.py --memory [--repeat 3]  # 10 vs 1000 pages, peak RSS

All three tools get the same generated scans (one multi-page PDF of dense,
medical-looking 300 dpi pages; some skewed, some turned 90/180/270) and the same
worker count, one single-threaded tesseract per worker (OMP_THREAD_LIMIT=1).
They run interleaved, `--repeat` times, and the median wall time of each is
used, so the ratios are measured side by side on the same (shared, noisy) machine:
- raw tesseract: pdftoppm one page at 300 dpi + `tesseract page.pgm out txt`,
  nothing else (the physical floor);
- OCRmyPDF `--deskew --rotate-pages -j N` (installed in its own venv by
  `make bench-env`, not a project dependency);
- `chartclerk ingest --workers N` into a fresh archive (the CLI, start-up included);
- to show the engine's share, tesseract alone on each page's own JPEG copied out of
  the PDF (`pdfimages -j`, no rendering): chartclerk takes a scanned page's image
  straight from the file too (ingest/pdfimage.py), so this is the floor it is held to;
- raw tesseract with one worker: how far this machine lets two tesseracts scale;
- and raw tesseract again on a PDF of the same pages
  already straightened (by chartclerk's own straighten_page): tesseract reads a page
  turned 180 degrees or skewed 8 degrees as garbage, faster than the real text, so
  "raw tesseract" on the scans as they come does less work than any tool that
  reads them right.

It also prints peak RSS of each process tree (summed over its processes at 50 ms samples,
each address space counted once: see `tree_rss_mb`), chartclerk's seconds per stage (from
`ingest --stats`), and accuracy on the same pages: quarter turns found, skew error,
and OCR text similarity to the ground truth.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from chartclerk.ingest import PageImage
from chartclerk.ocr import straighten_page
from chartclerk.tests.scans import (
    DOC_TYPES,
    FakePatient,
    distort,
    make_roster,
    render_document,
    write_pdf,
    write_roster_csv,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float  # highest RSS of the process tree at a 50 ms sample, each address space once
    pid_sum_peak_mb: float  # the same summed over every pid, a vfork child counted as a second copy


@dataclass(frozen=True)
class Truth:
    quarter: int  # clockwise turn needed to make the page upright
    skew: float
    lines: tuple[str, ...]


# kcmp(2) tells whether two processes share one address space; its number by architecture.
_SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
_KCMP_VM = 1
_libc = ctypes.CDLL(None, use_errno=True)


def shares_parent_memory(pid: int, ppid: int) -> bool:
    """True while ``pid`` runs in its parent's own address space: a child between vfork
    and exec (how Python's subprocess and glibc's posix_spawn start every program). Its
    VmRSS is then its parent's, the same pages, not a second copy. False when unsure."""
    if _SYS_KCMP is None:
        return False
    return int(_libc.syscall(_SYS_KCMP, pid, ppid, _KCMP_VM, 0, 0)) == 0


def _status(pid: int) -> dict[str, str] | None:
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    return dict(line.split(":", 1) for line in status.splitlines() if ":" in line)


def tree_rss_mb(root_pid: int) -> tuple[float, float]:
    """RSS of a process and all its descendants: (each address space counted once, every
    pid summed). They differ when a child is caught between vfork and exec: for that
    instant it shows its parent's RSS (a 120 MB worker about to become a 40 MB tesseract)
    although it has no memory of its own. kcmp is asked before the RSS is read, so a child
    that has exec'd meanwhile shows its new, own RSS."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _status(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    once = every = 0
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        shared = pid != root_pid and shares_parent_memory(pid, parents[pid])
        fields = _status(pid)
        rss = int(fields["VmRSS"].split()[0]) if fields and "VmRSS" in fields else 0
        every += rss
        once += 0 if shared else rss
    return once / 1024, every / 1024


def measure(command: Sequence[str], cwd: Path | None = None) -> Run:
    """Wall time and peak process-tree RSS of one command (sampled every 50 ms)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = pid_sum_peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, pid_sum_peak
        while not done.is_set():
            once, every = tree_rss_mb(proc.pid)
            peak, pid_sum_peak = max(peak, once), max(pid_sum_peak, every)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in (0,):
        raise SystemExit(f"{command[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    return Run(seconds, peak, pid_sum_peak)


def make_pages(count: int, seed: int) -> tuple[list[np.ndarray], list[Truth], list[FakePatient]]:
    rng = np.random.default_rng(seed)
    roster = make_roster(50, seed=seed)
    pages: list[np.ndarray] = []
    truth: list[Truth] = []
    for i in range(count):
        doc = render_document(DOC_TYPES[i % len(DOC_TYPES)], roster[i % len(roster)], seed=seed + i, dpi=300)
        quarter = (1, 2, 3)[i % 3] if i % 4 == 3 else 0
        skew = round(float(rng.uniform(-8, 8)), 2) if i % 3 else 0.0
        pages.append(distort(doc.pages[0], skew_degrees=skew, quarter_turns_ccw=quarter, noise=0.001, seed=i))
        truth.append(Truth((quarter * 90) % 360, skew, doc.lines))
    return pages, truth, roster


def raw_tesseract(pdf: Path, pages: int, workers: int, scratch: Path, render: bool = True) -> Run:
    """Rasterize + OCR each page, nothing else, over `workers` threads of subprocesses.
    With ``render=False`` the page's own JPEG is copied out (`pdfimages -j`) instead of
    rendered: tesseract alone, the engine's floor."""
    script = scratch / "raw.sh"
    if render:
        page = f'pdftoppm -r 300 -gray -f "$1" -l "$1" -singlefile "{pdf}" "{scratch}/p$1"\n'
        image = f"{scratch}/p$1.pgm"
    else:
        page = f'pdfimages -j -f "$1" -l "$1" "{pdf}" "{scratch}/p$1"\n'
        image = f"{scratch}/p$1-000.jpg"
    script.write_text(f'#!/bin/sh\nset -e\n{page}tesseract "{image}" "{scratch}/p$1" txt 2>/dev/null\n')
    script.chmod(0o755)
    driver = scratch / f"raw-{time.monotonic_ns()}.py"
    driver.write_text(
        "import subprocess, sys\nfrom concurrent.futures import ThreadPoolExecutor\n"
        f"with ThreadPoolExecutor({workers}) as pool:\n"
        f"    run = lambda n: subprocess.run(['{script}', str(n)], check=True)\n"
        f"    list(pool.map(run, range(1, {pages} + 1)))\n"
    )
    return measure([sys.executable, str(driver)])


def ocrmypdf(pdf: Path, workers: int, scratch: Path, exe: Path) -> Run:
    return measure(
        [str(exe), "--deskew", "--rotate-pages", "-j", str(workers), "-q", str(pdf), str(scratch / "o.pdf")]
    )


def chartclerk(pdf: Path, workers: int, scratch: Path, roster_csv: Path, stats: Path) -> Run:
    home = scratch / f"cc-{workers}-{time.monotonic_ns()}"
    home.mkdir()
    (home / "config.yaml").write_text(f"inbox: inbox\narchive: archive\ndatabase: null\nworkers: {workers}\n")
    cli = [str(BIN / "chartclerk"), "--config", str(home / "config.yaml")]
    subprocess.run([*cli, "patients", "import", str(roster_csv)], check=True, capture_output=True)
    run = measure([*cli, "ingest", str(pdf), "--workers", str(workers), "--stats", str(stats)])
    shutil.copy(home / "archive" / "chartclerk.db", scratch / "last.db")
    (scratch / "last-config").write_text(str(home / "config.yaml"))
    return run


def accuracy(scratch: Path, truth: list[Truth]) -> dict[str, float]:
    config = (scratch / "last-config").read_text()
    cli = [str(BIN / "chartclerk"), "--config", config]
    docs = json.loads(
        subprocess.run([*cli, "list", "--json"], check=True, capture_output=True, text=True).stdout
    )
    found: dict[int, dict[str, Any]] = {}
    for doc in docs:
        shown = json.loads(
            subprocess.run(
                [*cli, "show", str(doc["id"]), "--json"], check=True, capture_output=True, text=True
            ).stdout
        )
        for number, page in zip(
            range(doc["source_pages"][0], doc["source_pages"][1] + 1), shown["pages"], strict=True
        ):
            found[number] = page
    turned = sum(found[i + 1]["rotation_degrees"] == t.quarter for i, t in enumerate(truth))
    skew_err = [abs(found[i + 1]["skew_degrees"] - t.skew) for i, t in enumerate(truth)]
    similarity = [
        fuzz.ratio(" ".join(found[i + 1]["text"].split()), " ".join(" ".join(t.lines).split()))
        for i, t in enumerate(truth)
    ]
    return {
        "pages": len(truth),
        "quarter_turns_right": turned,
        "skew_error_mean": statistics.fmean(skew_err),
        "skew_error_max": max(skew_err),
        "text_similarity_mean": statistics.fmean(similarity),
    }


def throughput(args: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    pages, truth, roster = make_pages(args.pages, seed=args.seed)
    pdf = scratch / "batch.pdf"
    write_pdf(pdf, pages, dpi=300)
    straight_pdf = scratch / "straight.pdf"
    write_pdf(straight_pdf, [straighten_page(PageImage(1, p, 300.0)).image for p in pages], dpi=300)
    write_roster_csv(scratch / "roster.csv", roster)
    exe = Path(args.ocrmypdf)
    tools: dict[str, Callable[[], Run]] = {
        "raw tesseract": lambda: raw_tesseract(pdf, args.pages, args.workers, scratch),
        "raw tesseract, pre-straightened": lambda: raw_tesseract(
            straight_pdf, args.pages, args.workers, scratch
        ),
        "tesseract alone, no rendering": lambda: raw_tesseract(
            pdf, args.pages, args.workers, scratch, render=False
        ),
        "raw tesseract (1 worker)": lambda: raw_tesseract(pdf, args.pages, 1, scratch),
        f"chartclerk ingest ({args.workers} workers)": lambda: chartclerk(
            pdf, args.workers, scratch, scratch / "roster.csv", scratch / "stats.json"
        ),
        "chartclerk ingest (1 worker)": lambda: chartclerk(
            pdf, 1, scratch, scratch / "roster.csv", scratch / "stats1.json"
        ),
    }
    if exe.exists():
        tools["ocrmypdf --deskew --rotate-pages"] = lambda: ocrmypdf(pdf, args.workers, scratch, exe)
    else:
        print(f"(OCRmyPDF not found at {exe}: run `make bench-env`; skipped)")
    runs: dict[str, list[Run]] = {name: [] for name in tools}
    for _ in range(args.repeat):
        for name, tool in tools.items():
            runs[name].append(tool())
    print(f"pages: {args.pages} (300 dpi letter, dense text, 1 in 4 turned, 2 in 3 skewed up to 8 deg)")
    print(f"workers: {args.workers}; repeats: {args.repeat} (median shown); cpus: {os.cpu_count()}")
    med = {name: statistics.median(r.seconds for r in rs) for name, rs in runs.items()}
    print(f"{'tool':<36} {'median s':>9} {'pages/s':>8} {'peak RSS MB':>12}")
    for name, rs in runs.items():
        peak = max(r.peak_rss_mb for r in rs)
        print(f"{name:<36} {med[name]:>9.2f} {args.pages / med[name]:>8.3f} {peak:>12.0f}")
    cc = med[f"chartclerk ingest ({args.workers} workers)"]
    print(f"chartclerk / raw tesseract pages/s: {med['raw tesseract'] / cc:.3f}  (target >= 0.9)")
    floor = med["raw tesseract, pre-straightened"]
    print(f"chartclerk / raw tesseract on the pre-straightened pages: {floor / cc:.3f}")
    alone = med["tesseract alone, no rendering"]
    print(f"chartclerk / tesseract alone on the scans' own images: {alone / cc:.3f}")
    if "ocrmypdf --deskew --rotate-pages" in med:
        ratio = med["ocrmypdf --deskew --rotate-pages"] / cc
        print(f"chartclerk / OCRmyPDF pages/s:      {ratio:.3f}  (target >= 2)")
    scaling = med["chartclerk ingest (1 worker)"] / cc
    print(f"{args.workers} workers / 1 worker:            {scaling:.3f}  (target >= 1.8)")
    machine = med["raw tesseract (1 worker)"] / med["raw tesseract"]
    print(f"raw tesseract, {args.workers} workers / 1 worker: {machine:.3f}  (what this machine allows)")
    stats = json.loads((scratch / "stats.json").read_text())
    print("chartclerk seconds per stage, summed over pages (last run, "
          f"{args.workers} workers, wall {stats['wall_seconds']} s):")  # fmt: skip
    for stage, seconds in sorted(stats["stage_seconds"].items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<22} {seconds:>8.2f}  ({seconds / args.pages * 1000:.0f} ms/page)")
    print(
        "accuracy on the same pages:",
        json.dumps({k: round(v, 3) for k, v in accuracy(scratch, truth).items()}),
    )
    shutil.rmtree(scratch, ignore_errors=True)


def memory(args: argparse.Namespace) -> None:
    """Peak RSS of `chartclerk ingest` on a 10-page and a 1000-page PDF of light pages, the two
    sizes interleaved `--repeat` times (`--big` sets the larger size). A peak is the highest
    of 50 ms samples of the whole process tree, so it depends on whether both workers and
    their tesseracts happen to peak together; every run is shown and the medians are compared."""
    scratch = Path(tempfile.mkdtemp(prefix="cc-mem-"))
    roster = make_roster(5, seed=1)
    write_roster_csv(scratch / "roster.csv", roster)
    base = render_document("progress_note", roster[0], seed=1, dpi=300, body_lines=4).pages[0]
    sizes = (10, args.big)
    for count in sizes:
        write_pdf(scratch / f"p{count}.pdf", [base] * count, dpi=300)
    runs: dict[int, list[Run]] = {count: [] for count in sizes}
    for _ in range(args.repeat):
        for count in sizes:
            stats = scratch / f"m{count}.json"
            runs[count].append(
                chartclerk(scratch / f"p{count}.pdf", args.workers, scratch, scratch / "roster.csv", stats)
            )
    for label, field in (
        ("peak RSS, each address space counted once", "peak_rss_mb"),
        ("summed over every pid (a vfork child counted again)", "pid_sum_peak_mb"),
    ):
        peak = {count: statistics.median(getattr(r, field) for r in rs) for count, rs in runs.items()}
        print(f"{label}:")
        for count, rs in runs.items():
            seconds = statistics.median(r.seconds for r in rs)
            each = ", ".join(f"{getattr(r, field):.0f}" for r in rs)
            print(
                f"  {count:>5} pages: {seconds:8.1f} s, {count / seconds:.2f} pages/s, "
                f"{peak[count]:.0f} MB median (runs: {each})"
            )
        ratio = peak[args.big] / peak[10]
        print(f"  {args.big} pages / 10 pages (medians): {ratio:.3f}  (target <= 1.10, and under 1024 MB)")
    shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--ocrmypdf", default=str(ROOT / "bench" / ".venv-ocrmypdf" / "bin" / "ocrmypdf"))
    parser.add_argument("--memory", action="store_true", help="run the memory benchmark instead")
    parser.add_argument("--big", type=int, default=1000, help="page count of the large PDF (--memory)")
    args = parser.parse_args()
    memory(args) if args.memory else throughput(args)


if __name__ == "__main__":
    main()
