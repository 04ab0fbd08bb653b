"""Celery page jobs against the local process pool, on this machine, in one run.

    .venv/bin/python bench/distributed.py [--files 24] [--workers 2] [--dpi 200]

Pages of the held-out family (bench/heldout.py: other wording, layouts and fonts than the
tests; scanned-looking, some skewed), one or two pages a file, go through
``chartclerk.pipeline.ingest_files`` twice, into two fresh archives on the same throwaway
PostgreSQL (tests/services.py): once with the local pool of ``--workers`` processes, once
with ``--workers`` Celery workers of one process each (``chartclerk worker -c 1``) through
a throwaway Redis; the pool's processes and the workers are started before the clock.
Both archives must hold the same documents. Prints pages/s of each, their ratio (target:
Celery at least 0.9 of the local pool's) and the overhead per page: the submitting side's
(page_jobs row and broker message, timed around each submit) and the workers' bookkeeping
(two page_jobs transactions a page, timed by replaying them on finished jobs).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from chartclerk.bench.heldout import held_out_document
from chartclerk.classify import DOC_TYPES, Patient
from chartclerk.classify.training.render import render_pages, scan_like
from chartclerk.distributed import CeleryExecutor, read_page
from chartclerk.ingest import PageTask, inspect_source
from chartclerk.page_worker import PageContext
from chartclerk.pipeline import ingest_files
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.store.db import session_scope
from chartclerk.store.tables import PageJobRow
from chartclerk.tests.scans import make_roster, write_pdf
from chartclerk.tests.services import PostgresServer, RedisServer
from chartclerk.workers import make_pool


class TimedSubmit(Executor):
    """Times each submit of the wrapped executor (the submitting side's cost per page)."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.seconds, self.calls = inner, 0.0, 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        t = time.perf_counter()
        future = self.inner.submit(fn, *args, **kwargs)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait, cancel_futures=cancel_futures)


def make_backlog(folder: Path, files: int, dpi: int, seed: int) -> tuple[list[Path], list[Patient]]:
    folder.mkdir(parents=True)
    roster = make_roster(40, seed=seed)
    rng = random.Random(seed)
    paths = []
    for i in range(files):
        doc = held_out_document(DOC_TYPES[i % len(DOC_TYPES)], roster[i % len(roster)], seed + i, True)
        pages = render_pages(doc.blocks, doc.layout, dpi)[: 1 + i % 2]
        scans = [scan_like(p, skew_degrees=rng.uniform(-3, 3), noise=0.001, seed=seed + i) for p in pages]
        path = folder / f"heldout-{i:03d}.pdf"
        write_pdf(path, scans, dpi=dpi)
        paths.append(path)
    return paths, [Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in roster]


def documents(archive: Archive) -> list[tuple[Any, ...]]:
    return sorted(
        (d["source"], tuple(d["source_pages"]), d["type"], d["patient_mrn"]) for d in archive.list_documents()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cc-distributed-"))
    paths, patients = make_backlog(home / "backlog", args.files, args.dpi, args.seed)
    pages = sum(inspect_source(p, load_settings(None).ingest).page_count for p in paths)
    postgres, redis = PostgresServer.start(), RedisServer.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        configs = {}
        for name in ("local", "celery"):
            config = home / f"{name}.yaml"
            broker = f"'{redis.url()}'" if name == "celery" else "null"
            config.write_text(
                f"inbox: {home / 'inbox'}\narchive: {home / name}\n"
                f"database: '{postgres.create_database(name)}'\n"
                f"broker: {broker}\nworkers: {args.workers}\ndistributed:\n  poll_seconds: 0.05\n",
                encoding="utf-8",
            )
            configs[name] = config
            with Archive.open(load_settings(config)) as archive:
                archive.import_patients(patients)
        env = {**os.environ, "C_FORCE_ROOT": "1"}  # pickled tasks: Celery asks to confirm running as root
        cli = [
            sys.executable,
            "-m",
            "chartclerk.cli",
            "--config",
            str(configs["celery"]),
            "worker",
            "-c",
            "1",
        ]
        workers = [
            subprocess.Popen(
                [*cli, "--name", f"bench{i}@%h"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(args.workers)
        ]
        time.sleep(5)  # the workers' start-up (imports, broker connection) is not part of the run
        results = {}
        for name in ("local", "celery"):
            settings = load_settings(configs[name])
            with Archive.open(settings) as archive:
                inner = make_pool(args.workers) if name == "local" else CeleryExecutor(settings)
                if name == "local":  # start the pool's processes before the clock, as the workers were
                    for future in [inner.submit(os.getpid) for _ in range(4 * args.workers)]:
                        future.result()
                executor = TimedSubmit(inner)
                with executor:
                    t = time.perf_counter()
                    outcomes = ingest_files(paths, settings, archive, executor)
                    wall = time.perf_counter() - t
                failed = [o.error for o in outcomes if o.status != "archived"]
                results[name] = (wall, executor.seconds / max(executor.calls, 1), documents(archive), failed)
                if name == "celery":
                    bookkeeping = replay_bookkeeping(archive, paths, settings)
                    with archive.engine.connect() as conn:
                        stored = conn.exec_driver_sql(
                            "SELECT avg(octet_length(text) + octet_length(words)) FROM pages"
                        ).scalar()
        local, celery = results["local"], results["celery"]
        print(
            f"{len(paths)} files, {pages} pages (held-out family, {args.dpi} dpi), "
            f"{args.workers} processes each"
        )
        for name, (wall, submit, _, failed) in results.items():
            rate = pages / wall
            print(f"  {name:<7} {wall:6.1f} s  {rate:5.2f} pages/s  submit {submit * 1000:6.2f} ms/page"
                  f"  failed files: {len(failed)}")  # fmt: skip
        print(f"Celery / local pool pages/s: {local[0] / celery[0]:.2f} (target >= 0.90)")
        print(f"same documents, types and patients: {local[2] == celery[2]}")
        print(
            f"overhead per page: submit (page_jobs row + broker message) {celery[1] * 1000:.2f} ms; "
            f"worker bookkeeping (two page_jobs transactions) {bookkeeping * 1000:.2f} ms; "
            f"wall difference {(celery[0] - local[0]) / pages * 1000:+.0f} ms"
        )
        print(f"page text and word boxes stored per page: {float(stored or 0) / 1024:.1f} KiB (mean)")
        pdfs = sum(f.stat().st_size for f in (home / "celery" / "documents").rglob("*.pdf"))
        print(f"searchable PDFs per page: {pdfs / pages / 1024:.0f} KiB ({args.dpi} dpi)")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        redis.stop()
        postgres.stop()


def replay_bookkeeping(archive: Archive, paths: list[Path], settings: Any) -> float:
    """Seconds per page of the worker's own database work: its first transaction (claim) and
    its last (store), replayed on finished jobs, where read_page does both lookups and stops."""
    source = inspect_source(paths[0], settings.ingest)
    ctx = PageContext(settings.ingest, settings.ocr, archive.tmp_dir)
    with session_scope(archive.engine) as session:
        job = session.get(PageJobRow, (source.sha256, 1))
        assert job is not None
        job_id = job.job
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        read_page(archive.engine, job_id, PageTask(source, 1), ctx, max_attempts=3)
    return 2 * (time.perf_counter() - t) / n


if __name__ == "__main__":
    main()
