"""Distributed page work: the page job's rules on both databases, and a backlog through two real
Celery workers (a throwaway Redis and PostgreSQL) with one worker process SIGKILLed mid-page."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from chartclerk.classify import Patient
from chartclerk.distributed import (
    FINISHED,
    QUEUE,
    CeleryExecutor,
    QueueStatus,
    finish_file,
    make_celery,
    queue_status,
    read_page,
    record_file,
)
from chartclerk.ingest import PageTask, SourceFile, inspect_source
from chartclerk.page_worker import PageContext
from chartclerk.pipeline import FileOutcome, ingest_files
from chartclerk.settings import Settings, load_settings
from chartclerk.store import Archive
from chartclerk.store.db import session_scope
from chartclerk.store.tables import FileJobRow, PageJobRow
from chartclerk.tests.scans import FakePatient, render_document, write_pdf, write_png
from chartclerk.tests.services import NetNamespace, PostgresServer, RedisServer
from chartclerk.workers import SerialExecutor

DEADLINE = 240.0


@pytest.fixture
def page_archive(
    settings: Settings, database_url: str | None, roster: list[FakePatient]
) -> Iterator[Archive]:
    with Archive.open(settings.model_copy(update={"database": database_url or settings.database})) as opened:
        yield opened


def _queue(archive: Archive, sha: str, page: int, job: str, attempts: int = 0) -> None:
    with session_scope(archive.engine) as session:
        session.merge(
            PageJobRow(
                source_sha256=sha,
                page=page,
                job=job,
                state="queued",
                attempts=attempts,
                result=None,
                error=None,
            )
        )


def _row(archive: Archive, sha: str, page: int) -> PageJobRow:
    with session_scope(archive.engine) as session:
        row = session.get(PageJobRow, (sha, page))
        assert row is not None
        return row


def test_a_page_job_is_stored_once_and_fails_after_max_attempts(
    page_archive: Archive, settings: Settings, tmp_path: Path, roster: list[FakePatient]
) -> None:
    scan = tmp_path / "note.png"
    write_png(scan, render_document("progress_note", roster[0], seed=3, dpi=150).pages[0], dpi=150)
    source = inspect_source(scan, settings.ingest)
    task, ctx = PageTask(source, 1), PageContext(settings.ingest, settings.ocr, page_archive.tmp_dir)
    engine = page_archive.engine
    _queue(page_archive, source.sha256, 1, "job1")
    assert read_page(engine, "old", task, ctx, max_attempts=3) == "stale"  # an older submission
    assert read_page(engine, "job1", task, ctx, max_attempts=3) == "done"
    stored = _row(page_archive, source.sha256, 1)
    assert stored.state == "done" and stored.attempts == 1 and stored.result
    assert read_page(engine, "job1", task, ctx, max_attempts=3) == "already"  # redelivered: stored once
    assert _row(page_archive, source.sha256, 1).result == stored.result
    # Three deliveries started the page and never finished (each killed its worker): failed.
    _queue(page_archive, source.sha256, 1, "job2", attempts=3)
    assert read_page(engine, "job2", task, ctx, max_attempts=3) == "failed"
    failed = _row(page_archive, source.sha256, 1)
    assert failed.state == "failed" and failed.result is None
    assert "stopped (killed or crashed) 3 times" in (failed.error or "")
    report = queue_status(settings.model_copy(update={"broker": None}), engine)
    assert sum(w.failed for w in report.workers) == 1 and report.waiting_in_broker is None


def _two_page_file(tmp_path: Path, settings: Settings, roster: list[FakePatient]) -> SourceFile:
    tmp_path.mkdir(exist_ok=True)
    scan = tmp_path / "two.pdf"
    write_pdf(scan, render_document("referral", roster[1], seed=5, dpi=150, pages=2).pages, dpi=150)
    return inspect_source(scan, settings.ingest)


def _read_all(archive: Archive, job: str, source: SourceFile, settings: Settings, run: Path) -> None:
    ctx = PageContext(settings.ingest, settings.ocr, run)
    for n in range(1, source.page_count + 1):
        assert read_page(archive.engine, job, PageTask(source, n), ctx, max_attempts=3) == "done"


def _file_row(archive: Archive, sha: str) -> FileJobRow:
    with session_scope(archive.engine) as session:
        row = session.get(FileJobRow, sha)
        assert row is not None
        return row


def test_the_process_that_stores_the_last_page_assembles_the_file_once(
    page_archive: Archive, settings: Settings, tmp_path: Path, roster: list[FakePatient]
) -> None:
    source = _two_page_file(tmp_path, settings, roster)
    job = record_file(page_archive.engine, source)
    run = page_archive.tmp_dir / "run-test"
    ctx = PageContext(settings.ingest, settings.ocr, run)
    assert read_page(page_archive.engine, job, PageTask(source, 1), ctx, max_attempts=3) == "done"
    assert finish_file(page_archive, job, source, settings, max_attempts=3) == "waiting"
    assert read_page(page_archive.engine, job, PageTask(source, 2), ctx, max_attempts=3) == "done"
    assert finish_file(page_archive, "older", source, settings, max_attempts=3) == "stale"
    assert finish_file(page_archive, job, source, settings, max_attempts=3) == "archived"
    row = _file_row(page_archive, source.sha256)
    assert row.state == "archived" and row.attempts == 1 and row.worker
    outcome = pickle.loads(row.outcome or b"")
    assert isinstance(outcome, FileOutcome) and outcome.status == "archived" and outcome.pages == 2
    assert outcome.path == source.path and row.documents == ",".join(str(d.id) for d in outcome.documents)
    assert len(page_archive.list_documents()) == len(outcome.documents) >= 1
    # A redelivered task of a page already stored checks the file again: nothing more is done.
    assert read_page(page_archive.engine, job, PageTask(source, 2), ctx, max_attempts=3) == "already"
    assert finish_file(page_archive, job, source, settings, max_attempts=3) == "finished"
    assert len(page_archive.list_documents()) == len(outcome.documents)
    assert _row(page_archive, source.sha256, 1).result is None  # read once, by the assembler
    assert not [p for p in run.rglob("*") if p.is_file()]  # page PDFs and delivery folders removed
    assert queue_status(settings.model_copy(update={"broker": None}), page_archive.engine).files == {
        "archived": 1
    }


def test_a_file_whose_assembler_died_is_finished_by_the_next_delivery(
    page_archive: Archive, settings: Settings, tmp_path: Path, roster: list[FakePatient]
) -> None:
    source = _two_page_file(tmp_path, settings, roster)
    job = record_file(page_archive.engine, source)
    _read_all(page_archive, job, source, settings, page_archive.tmp_dir / "run-test")
    with session_scope(page_archive.engine) as session:  # as a worker killed mid-assembly leaves it
        row = session.get(FileJobRow, source.sha256)
        assert row is not None
        row.state, row.attempts, row.worker = "assembling", 1, "gone:1"
    assert finish_file(page_archive, job, source, settings, max_attempts=3) == "archived"
    row = _file_row(page_archive, source.sha256)
    assert row.state == "archived" and row.attempts == 2 and row.worker != "gone:1"
    # An assembly that killed its worker max_attempts times fails the file with the reason.
    other = _two_page_file(tmp_path / "b", settings, roster[3:])
    job = record_file(page_archive.engine, other)
    _read_all(page_archive, job, other, settings, page_archive.tmp_dir / "run-test")
    with session_scope(page_archive.engine) as session:
        row = session.get(FileJobRow, other.sha256)
        assert row is not None
        row.state, row.attempts = "assembling", 3
    assert finish_file(page_archive, job, other, settings, max_attempts=3) == "failed"
    failed = _file_row(page_archive, other.sha256)
    assert "stopped its worker (killed or crashed) 3 times" in (failed.error or "")
    assert page_archive.source_status(other.sha256) is None


_HOLD_LOCK = """
import sys, time
from chartclerk.distributed import _assembly_lock
from chartclerk.settings import load_settings
from chartclerk.store import Archive
archive = Archive.open(load_settings(sys.argv[1]))
with _assembly_lock(archive, sys.argv[2]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_the_assembly_lock_dies_with_its_process(
    page_archive: Archive,
    settings: Settings,
    database_url: str | None,
    tmp_path: Path,
    roster: list[FakePatient],
) -> None:
    source = _two_page_file(tmp_path, settings, roster)
    job = record_file(page_archive.engine, source)
    _read_all(page_archive, job, source, settings, page_archive.tmp_dir / "run-test")
    config = tmp_path / "holder.yaml"
    database = f"'{database_url}'" if database_url else "null"
    config.write_text(f"inbox: {tmp_path / 'in'}\narchive: {page_archive.root}\ndatabase: {database}\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(config), source.sha256], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        result: list[str] = []
        finisher = threading.Thread(
            target=lambda: result.append(finish_file(page_archive, job, source, settings, max_attempts=3))
        )
        finisher.start()
        finisher.join(1.0)
        assert finisher.is_alive() and not result  # waits while another process holds the file
        holder.send_signal(signal.SIGKILL)
        finisher.join(30)
        assert result == ["archived"]  # the lock went with the killed process
    finally:
        holder.kill()
        holder.wait()


# -- end to end -----------------------------------------------------------------------------------


def _backlog(folder: Path, roster: list[FakePatient]) -> list[Path]:
    folder.mkdir()
    kinds = ["lab_report", "progress_note", "discharge_summary", "referral"] * 2
    paths = []
    for i, kind in enumerate(kinds):
        doc = render_document(kind, roster[i], seed=10 + i, dpi=150, pages=2 if i % 2 else 1)
        path = folder / f"scan-{i}.pdf"
        write_pdf(path, doc.pages, dpi=150)
        paths.append(path)
    return paths


def _documents(archive: Archive) -> list[tuple[Any, ...]]:
    out = []
    for doc in archive.list_documents():
        full = archive.get_document(doc["id"], with_text=True)
        texts = tuple(" ".join(p["text"].split()) for p in full["pages"])
        out.append((full["source"], tuple(doc["source_pages"]), doc["type"], doc["patient_mrn"], texts))
    return sorted(out)


def _start_worker(config: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "C_FORCE_ROOT": "1"}  # pickled tasks: Celery asks to confirm running as root
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chartclerk.cli",
            "--config",
            str(config),
            "worker",
            "-c",
            "1",
            "--name",
            name,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_two_celery_workers_equal_the_local_pool_and_survive_killed_workers_and_a_broker_restart(
    tmp_path: Path, roster: list[FakePatient], postgres: PostgresServer
) -> None:
    """A worker process SIGKILLed mid-page, another mid-assembly, then Redis restarted (with its
    append-only file): every file archived exactly once, by a worker, as by the local pool."""
    paths = _backlog(tmp_path / "backlog", roster)
    patients = [Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in roster]

    local = load_settings(None, inbox=str(tmp_path / "in1"), archive=str(tmp_path / "local"), workers=1)
    with Archive.open(local) as archive:
        archive.import_patients(patients)
        ingest_files(paths, local, archive, SerialExecutor())
        want = _documents(archive)
    assert len(want) == len(paths)

    redis = RedisServer.start(persistent=True)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"inbox: {tmp_path / 'in2'}\narchive: {tmp_path / 'shared'}\n"
        f"database: '{postgres.create_database()}'\nbroker: '{redis.url()}'\nworkers: 2\n"
        # Unacknowledged jobs come back after 20 s (a page here takes 1-3 s).
        "distributed:\n  poll_seconds: 0.05\n  visibility_timeout_seconds: 20\n  resend_seconds: 30\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    with Archive.open(settings) as archive:
        archive.import_patients(patients)
    workers = [_start_worker(config, f"w{i}@test") for i in (1, 2)]
    try:
        outcomes: list[FileOutcome] = []
        with Archive.open(settings) as archive:
            executor = CeleryExecutor(settings)
            run = threading.Thread(
                target=lambda: outcomes.extend(ingest_files(paths, settings, archive, executor)), daemon=True
            )
            run.start()
            killed_page = _kill_a_worker_mid_page(archive)
            killed_file = _kill_a_worker_mid_assembly(archive)
            assert _files_finished(archive) < len(paths)  # the broker restarts in the middle of the backlog
            redis.restart()
            run.join(DEADLINE)
            assert not run.is_alive(), "ingest through Celery did not finish"
            executor.shutdown()
            assert [o.status for o in outcomes] == ["archived"] * len(paths), [o.error for o in outcomes]
            assert _documents(archive) == want
            again = _row_of(archive, killed_page)
            assert again.state == "done" and again.attempts == 2  # the killed delivery, then the redelivery
            with session_scope(archive.engine) as session:
                files = {r.source_sha256: r for r in session.scalars(select(FileJobRow))}
            assert {r.state for r in files.values()} == {"archived"} and len(files) == len(paths)
            assert files[killed_file].attempts == 2  # assembled again by the killed page's redelivery
            assert all(r.worker and int(r.worker.rsplit(":", 1)[1]) != os.getpid() for r in files.values())
            with archive.engine.connect() as conn:
                per_source = conn.execute(
                    text("SELECT source_sha256, first_page, count(*) FROM documents GROUP BY 1, 2")
                ).all()
            assert all(n == 1 for *_, n in per_source) and len(per_source) == len(want)
            report = archive.verify()
            assert report.ok, report.problems
            status = _drained(settings, archive)
            assert status.files == {"archived": len(paths)}
            assert sum(w.done for w in status.workers) == sum(o.pages for o in outcomes)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redis.stop()


def _files_finished(archive: Archive) -> int:
    with session_scope(archive.engine) as session:
        return session.scalar(select(func.count()).where(FileJobRow.state.in_(FINISHED))) or 0


def _drained(settings: Settings, archive: Archive) -> QueueStatus:
    """The queue status once the broker's queue is empty (a job given back after the restart
    may still be on its way to a worker, which finds its page stored and its file finished)."""
    deadline = time.monotonic() + DEADLINE
    while (status := queue_status(settings, archive.engine)).waiting_in_broker != 0:
        assert time.monotonic() < deadline, f"the broker kept {status.waiting_in_broker} jobs"
        time.sleep(0.2)
    return status


def _kill_a_worker_mid_assembly(archive: Archive) -> str:
    """SIGKILL the worker process assembling the first file seen assembling; returns its sha256."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with session_scope(archive.engine) as session:
            row = session.execute(
                select(FileJobRow.source_sha256, FileJobRow.worker).where(FileJobRow.state == "assembling")
            ).first()
        if row is not None and row.worker:
            os.kill(int(row.worker.rsplit(":", 1)[1]), signal.SIGKILL)
            return str(row.source_sha256)
        time.sleep(0.005)
    raise AssertionError("no file was seen assembling")


def _kill_a_worker_mid_page(archive: Archive) -> tuple[str, int]:
    """SIGKILL the worker process reading the first page seen running; returns that page's key."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with session_scope(archive.engine) as session:
            row = session.execute(
                select(PageJobRow.source_sha256, PageJobRow.page, PageJobRow.worker).where(
                    PageJobRow.state == "running"
                )
            ).first()
        if row is not None and row.worker:
            os.kill(int(row.worker.rsplit(":", 1)[1]), signal.SIGKILL)
            return (row.source_sha256, row.page)
        time.sleep(0.01)
    raise AssertionError("no page job was seen running")


def _row_of(archive: Archive, key: tuple[str, int]) -> PageJobRow:
    return _row(archive, *key)


def test_status_and_worker_commands(tmp_path: Path) -> None:
    import json

    cli = str(Path(sys.executable).parent / "chartclerk")
    config = tmp_path / "config.yaml"
    config.write_text("inbox: inbox\narchive: archive\ndatabase: null\nworkers: 1\n", encoding="utf-8")
    status = subprocess.run(
        [cli, "--config", str(config), "status", "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(status.stdout) == {"waiting_in_broker": None, "workers": [], "files": {}}
    worker = subprocess.run([cli, "--config", str(config), "worker"], capture_output=True, text=True)
    assert worker.returncode == 6 and "no broker" in worker.stderr


def test_intake_sends_again_a_page_whose_message_the_broker_lost(
    tmp_path: Path, roster: list[FakePatient], postgres: PostgresServer, redis_server: RedisServer
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"inbox: {tmp_path / 'in'}\narchive: {tmp_path / 'shared'}\n"
        f"database: '{postgres.create_database()}'\nbroker: '{redis_server.url(3)}'\nworkers: 1\n"
        "distributed:\n  poll_seconds: 0.05\n  resend_seconds: 1\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    scan = tmp_path / "note.png"
    write_png(scan, render_document("progress_note", roster[0], seed=3, dpi=150).pages[0], dpi=150)
    source = inspect_source(scan, settings.ingest)
    app = make_celery(settings)

    def waiting() -> int | None:
        return queue_status(settings, archive.engine).waiting_in_broker

    def until(check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not check():
            assert time.monotonic() < deadline
            time.sleep(0.02)

    with Archive.open(settings) as archive, CeleryExecutor(settings) as executor:
        outcomes: list[FileOutcome] = []
        run = threading.Thread(
            target=lambda: outcomes.extend(ingest_files([scan], settings, archive, executor))
        )
        run.start()
        try:
            until(lambda: waiting() == 1)
            with app.connection_for_write() as conn:  # the broker loses the job
                conn.default_channel.queue_purge(QUEUE)
            assert waiting() == 0
            until(lambda: executor.stats.pages_resent >= 1 and waiting() == 1)  # intake sent it again
            job = _file_row(archive, source.sha256).job
            ctx = PageContext(settings.ingest, settings.ocr, archive.tmp_dir / "run-test")
            assert read_page(archive.engine, job, PageTask(source, 1), ctx, max_attempts=3) == "done"
            assert finish_file(archive, job, source, settings, max_attempts=3) == "archived"
            run.join(30)
            assert not run.is_alive() and [o.status for o in outcomes] == ["archived"]
        finally:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge(QUEUE)


@pytest.mark.slow
def test_a_worker_on_a_second_host_reaches_redis_and_postgres_over_its_link(
    tmp_path: Path, roster: list[FakePatient]
) -> None:
    """A worker in a network namespace of the test's own (a veth pair): it reaches Redis and
    PostgreSQL only over that link, and reads and assembles every file."""
    try:
        namespace = NetNamespace.create()
    except OSError as e:
        pytest.skip(f"network namespaces cannot be made here (kernel or permissions): {e}")
    postgres = redis = worker = None
    try:
        postgres = PostgresServer.start(listen=namespace.host_ip)
        redis = RedisServer.start(listen=namespace.host_ip)
        database = postgres.create_database().split("@/", 1)[1].split("?")[0]
        paths = _backlog(tmp_path / "backlog", roster)[:3]
        config = tmp_path / "config.yaml"
        config.write_text(
            f"inbox: {tmp_path / 'in'}\narchive: {tmp_path / 'shared'}\n"
            f"database: '{postgres.tcp_url(database)}'\nbroker: '{redis.tcp_url()}'\nworkers: 1\n"
            "distributed:\n  poll_seconds: 0.05\n",
            encoding="utf-8",
        )
        settings = load_settings(config)
        with Archive.open(settings) as archive:
            archive.import_patients(Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in roster)
            worker = subprocess.Popen(
                [*namespace.prefix, sys.executable, "-m", "chartclerk.cli", "--config", str(config)]
                + ["worker", "-c", "1", "--name", "far@test"],
                env={**os.environ, "C_FORCE_ROOT": "1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            with CeleryExecutor(settings) as executor:
                outcomes = ingest_files(paths, settings, archive, executor)
            assert [o.status for o in outcomes] == ["archived"] * len(paths), [o.error for o in outcomes]
            with session_scope(archive.engine) as session:
                assemblers = {r.worker for r in session.scalars(select(FileJobRow))}
                readers = {r.worker for r in session.scalars(select(PageJobRow))}
            here = Path("/proc/self/ns/net").readlink()
            for who in assemblers | readers:  # every page read and every file assembled over there
                assert who and Path(f"/proc/{who.rsplit(':', 1)[1]}/ns/net").readlink() != here
            clients = postgres.psql(
                f"SELECT DISTINCT client_addr FROM pg_stat_activity WHERE datname = '{database}'"
            )
            assert namespace.ns_ip in clients.split()  # the worker's connections come over the link
            assert archive.verify().ok
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()
        namespace.remove()
