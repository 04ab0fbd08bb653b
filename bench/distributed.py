"""Celery page jobs against the local process pool, on this machine, in one run.

    .venv/bin/python bench/distributed.py [--files 24] [--workers 2] [--dpi 200]

Pages of the held-out family (bench/heldout.py: other wording, layouts and fonts than the
tests; scanned-looking, some skewed), one or two pages a file, go through
``chartclerk.pipeline.ingest_files`` twice, into two fresh archives on the same throwaway
PostgreSQL (tests/services.py): once with the local pool of ``--workers`` processes, once
with ``--workers`` Celery workers of one process each (``chartclerk worker -c 1``) through
a throwaway Redis; the pool's processes and the workers are started before the clock.
Both archives must hold the same documents. With Celery, the worker that stores a file's
last page assembles the file (split, classify, match, archive); with the local pool, the
submitting process does. Prints pages/s of each, their ratio (target: Celery at least 0.9 of
the local pool's) and the overhead per page: the submitting side's (file_jobs and page_jobs
rows, broker messages, polling for progress: measured by the CeleryExecutor itself), the
workers' bookkeeping (page_jobs transactions, the file check under its assembly lock, and
the assembler's claim and outcome: timed by replaying them on finished jobs), and the
assembly itself per page wherever it ran (the outcome's stage times).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from chartclerk.bench.heldout import held_out_document
from chartclerk.classify import DOC_TYPES, Patient
from chartclerk.classify.training.render import render_pages, scan_like
from chartclerk.distributed import CeleryExecutor, finish_file, read_page
from chartclerk.ingest import PageTask, inspect_source
from chartclerk.page_worker import PageContext
from chartclerk.pipeline import ingest_files
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.store.db import session_scope
from chartclerk.store.tables import FileJobRow
from chartclerk.tests.scans import make_roster, write_pdf
from chartclerk.tests.services import PostgresServer, RedisServer
from chartclerk.workers import make_pool

# The file's own stages (assemble.assemble_file's laps), where it ran.
ASSEMBLY_STAGES = ("store original", "classify+match", "archive (pdf+db)")


def make_backlog(
    folder: Path, files: int, dpi: int, seed: int, *, one_page: bool = False
) -> tuple[list[Path], list[Patient]]:
    """Scans of the held-out family: one or two pages a file (one with ``one_page``)."""
    folder.mkdir(parents=True)
    roster = make_roster(40, seed=seed)
    rng = random.Random(seed)
    paths = []
    for i in range(files):
        doc = held_out_document(DOC_TYPES[i % len(DOC_TYPES)], roster[i % len(roster)], seed + i, True)
        pages = render_pages(doc.blocks, doc.layout, dpi)[: 1 if one_page else 1 + i % 2]
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
                if name == "local":  # start the pool's processes before the clock, as the workers were
                    executor: Executor = make_pool(args.workers)
                    for future in [executor.submit(os.getpid) for _ in range(4 * args.workers)]:
                        future.result()
                else:
                    executor = celery = CeleryExecutor(settings)
                with executor:
                    t = time.perf_counter()
                    outcomes = ingest_files(paths, settings, archive, executor)
                    wall = time.perf_counter() - t
                failed = [o.error for o in outcomes if o.status != "archived"]
                assembly = sum(v for o in outcomes for k, v in o.times if k in ASSEMBLY_STAGES)
                results[name] = (wall, assembly / pages, documents(archive), failed)
                if name == "celery":
                    page_txn, file_check = replay_bookkeeping(archive, paths, settings)
                    with archive.engine.connect() as conn:
                        stored = conn.exec_driver_sql(
                            "SELECT avg(octet_length(text) + octet_length(words)) FROM pages"
                        ).scalar()
        local, celery_run = results["local"], results["celery"]
        stats = celery.stats
        print(
            f"{len(paths)} files, {pages} pages (held-out family, {args.dpi} dpi), "
            f"{args.workers} processes each"
        )
        for name, (wall, _, _, failed) in results.items():
            print(f"  {name:<7} {wall:6.1f} s  {pages / wall:5.2f} pages/s  failed files: {len(failed)}")
        print(f"Celery / local pool pages/s: {local[0] / celery_run[0]:.2f} (target >= 0.90)")
        print(f"same documents, types and patients: {local[2] == celery_run[2]}")
        ms = 1000 / pages
        intake = stats.record_seconds + stats.send_seconds + stats.poll_seconds
        print(
            f"intake overhead per page: {intake * ms:.2f} ms = file_jobs/page_jobs rows "
            f"{stats.record_seconds * ms:.2f} + broker messages {stats.send_seconds * ms:.2f} + polling "
            f"{stats.poll_seconds * ms:.2f} ({stats.pages_sent} messages, {stats.pages_resent} sent again)"
        )
        print(
            f"polling: {stats.polls} polls every {settings.distributed.poll_seconds} s, "
            f"{stats.poll_seconds / max(stats.polls, 1) * 1000:.2f} ms each (a cost per poll, not per page)"
        )
        files_per_page = len(paths) / pages
        bookkeeping = 2 * page_txn + file_check + 2 * file_check * files_per_page
        print(
            f"worker bookkeeping per page: {bookkeeping * 1000:.2f} ms = page_jobs transactions 2 x "
            f"{page_txn * 1000:.2f} + file check under its lock {file_check * 1000:.2f} + "
            f"assembler's claim and outcome 2 x {file_check * 1000:.2f} x {files_per_page:.2f} files/page"
        )
        print(
            f"assembly (split, classify, match, archive) per page: {celery_run[1] * 1000:.0f} ms in the "
            f"workers; {local[1] * 1000:.0f} ms in the intake process with the local pool"
        )
        print(f"wall difference per page: {(celery_run[0] - local[0]) * ms:+.0f} ms")
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


def replay_bookkeeping(archive: Archive, paths: list[Path], settings: Any) -> tuple[float, float]:
    """Seconds of the worker's own database work, replayed on a finished file: one page_jobs
    transaction (read_page on a stored page: its row locked and read), and the file check
    (finish_file on a finished file: its assembly lock taken, its row read, the lock let go)."""
    source = inspect_source(paths[0], settings.ingest)
    ctx = PageContext(settings.ingest, settings.ocr, archive.tmp_dir)
    with session_scope(archive.engine) as session:
        job = session.get(FileJobRow, source.sha256)
        assert job is not None and job.state == "archived"
        job_id = job.job
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        assert read_page(archive.engine, job_id, PageTask(source, 1), ctx, max_attempts=3) == "already"
    page_txn = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        assert finish_file(archive, job_id, source, settings, max_attempts=3) == "finished"
    return page_txn, (time.perf_counter() - t) / n


if __name__ == "__main__":
    main()
