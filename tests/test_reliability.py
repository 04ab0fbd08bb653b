"""Nothing lost, nothing leaked: crashes, concurrency, hostile input, audit trail, integrity.

The kill tests drive the real command line in subprocesses and SIGKILL whole process
groups at random moments (seeded); bench/chaos.py runs the same harness many more times.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import signal
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from chartclerk.classify import Patient, read_roster_csv
from chartclerk.ingest.quarantine import REASON_SUFFIX, finish_interrupted, quarantine
from chartclerk.pipeline import handle_inbox_file, ingest_files
from chartclerk.settings import Settings, load_settings
from chartclerk.store import Actor, Archive
from chartclerk.store.pdf import PdfMetadata, update_pdf_metadata
from chartclerk.tests.badinputs import write_bad_inputs, write_bad_roster
from chartclerk.tests.chaos import (
    DPI,
    check_archive,
    kill_ingest_repeatedly,
    kill_watch_repeatedly,
    make_site,
    run,
    start,
    tiny_page,
    watch_until_empty,
    write_tiny_corpus,
)
from chartclerk.tests.scans import separator_sheet, write_pdf, write_png
from chartclerk.workers import SerialExecutor

PATIENTS = [
    Patient(mrn="00012345", last="DOE", first="JANE", dob=dt.date(1970, 1, 2), sex="F"),
    Patient(mrn="00067890", last="ROE", first="RICHARD", dob=dt.date(1961, 2, 3), sex="M"),
]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site")


@pytest.fixture
def tiny_settings(site: Path) -> Settings:
    return load_settings(site)


@pytest.fixture
def tiny_archive(tiny_settings: Settings) -> Iterator[Archive]:
    with Archive.open(tiny_settings, actor=Actor("alice", "pytest on testhost")) as opened:
        opened.import_patients(PATIENTS)
        yield opened


def _ingest(paths: list[Path], settings: Settings, archive: Archive) -> None:
    outcomes = ingest_files(paths, settings, archive, SerialExecutor())
    assert all(o.status == "archived" for o in outcomes), [o.error for o in outcomes]


def _kinds(archive: Archive) -> set[str]:
    return {p.kind for p in archive.verify().problems}


# -- integrity ------------------------------------------------------------------------------------


def test_verify_catches_flipped_bytes_missing_files_orphans_index_damage_and_permissions(
    tmp_path: Path, site: Path, tiny_settings: Settings, tiny_archive: Archive
) -> None:
    write_png(tmp_path / "a.png", tiny_page(1), dpi=DPI)
    write_pdf(tmp_path / "b.pdf", [tiny_page(2)], dpi=DPI)
    _ingest([tmp_path / "a.png", tmp_path / "b.pdf"], tiny_settings, tiny_archive)
    report = tiny_archive.verify()
    assert report.ok, report.problems
    assert (report.sources, report.documents, report.pages, report.files_hashed) == (2, 2, 2, 4)

    root = tiny_settings.archive
    [first, second] = tiny_archive.list_documents()
    pdf = root / first["pdf_path"]
    data = pdf.read_bytes()
    pdf.write_bytes(data[:100] + bytes([data[100] ^ 0x01]) + data[101:])  # one bit of one byte
    [problem] = tiny_archive.verify().problems
    assert (problem.kind, problem.subject) == ("hash", f"document {first['id']}")
    assert "\n" not in str(problem) and "a.png" not in str(problem)  # hashes and ids, not names
    result = run(site, "verify")
    assert result.returncode == 5 and "PROBLEM hash: document" in result.stdout
    pdf.write_bytes(data)

    [original] = [p for p in (root / "originals").rglob("*") if p.suffix == ".png"]
    kept = original.read_bytes()
    original.write_bytes(kept[:-1] + bytes([kept[-1] ^ 0xFF]))
    assert _kinds(tiny_archive) == {"hash"}
    original.write_bytes(kept)

    other = root / second["pdf_path"]
    other.rename(tmp_path / "moved.pdf")
    stray = root / "documents" / "zz" / "stray.pdf"
    stray.parent.mkdir(mode=0o700)
    stray.write_bytes(b"%PDF-1.4 stray")
    stray.chmod(0o600)
    assert _kinds(tiny_archive) == {"missing", "orphan"}
    (tmp_path / "moved.pdf").rename(other)
    stray.unlink()

    with tiny_archive.engine.begin() as conn:
        page = conn.execute(text("SELECT id, text, scope FROM pages_scoped LIMIT 1")).one()._asdict()
        conn.execute(
            text(
                "INSERT INTO pages_fts(pages_fts, rowid, text, scope) VALUES ('delete', :id, :text, :scope)"
            ),
            page,
        )
    assert _kinds(tiny_archive) == {"index"}
    with tiny_archive.engine.begin() as conn:
        conn.execute(text("INSERT INTO pages_fts(rowid, text, scope) VALUES (:id, :text, :scope)"), page)

    original.chmod(0o644)
    assert _kinds(tiny_archive) == {"permissions"}
    original.chmod(0o600)
    assert tiny_archive.verify().ok


def test_archive_folder_database_and_failed_folder_are_private(
    tiny_settings: Settings, tiny_archive: Archive
) -> None:
    root = tiny_settings.archive
    for folder in (root, root / "originals", root / "documents", root / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    tiny_archive.search("anything")  # a write: the -wal and -shm files exist while the archive is open
    for name in ("chartclerk.db", "chartclerk.db-wal", "chartclerk.db-shm", ".lock"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
    tiny_settings.inbox.mkdir()
    (tiny_settings.inbox / "x.txt").write_text("not a scan")
    handle_inbox_file(tiny_settings.inbox / "x.txt", tiny_settings, tiny_archive, SerialExecutor())
    assert stat.S_IMODE(tiny_settings.failed_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((tiny_settings.failed_dir / f"x.txt{REASON_SUFFIX}").stat().st_mode) == 0o600


# -- audit ----------------------------------------------------------------------------------------


def test_every_access_is_audited_and_tampering_is_detected(
    tmp_path: Path,
    site: Path,
    tiny_settings: Settings,
    tiny_archive: Archive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    write_png(tmp_path / "a.png", tiny_page(3), dpi=DPI)
    _ingest([tmp_path / "a.png"], tiny_settings, tiny_archive)
    [doc] = tiny_archive.list_documents()
    tiny_archive.file_document(doc["id"], mrn="12345", doc_type=None, loinc=None, user="alice")
    hits = tiny_archive.search("progress zebraquery")
    tiny_archive.get_document(doc["id"], with_text=True)
    tiny_archive.export_document(doc["id"], tmp_path / "out.pdf")
    assert (tmp_path / "out.pdf").read_bytes() == (tiny_settings.archive / doc["pdf_path"]).read_bytes()
    assert hits == []

    entries = tiny_archive.audit_log()
    assert [e.action for e in entries] == ["list", "file", "search", "show", "export"]
    assert {e.user for e in entries} == {"alice"} and entries[0].origin == "pytest on testhost"
    assert entries[1].patients == ("00012345",) and entries[1].target["documents"] == [doc["id"]]
    assert entries[2].target["query"] == "progress zebraquery"
    assert entries[3].patients == ("00012345",) and entries[4].target["to"].endswith("out.pdf")
    mine = tiny_archive.audit_log(patient="12345")  # leading zeros optional
    assert [e.action for e in mine] == ["file", "show", "export"]
    assert tiny_archive.audit_log(since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == []
    assert "zebraquery" not in caplog.text and "JANE" not in caplog.text  # logs: ids and hashes only

    chain = tiny_archive.verify_audit()
    assert chain.ok and chain.entries == 8  # the three audit reads above are entries too
    shown = run(site, "--user", "bob", "audit", "--patient", "00012345", "--json")  # the command line
    assert shown.returncode == 0, shown.stderr
    assert [e["action"] for e in json.loads(shown.stdout)] == ["file", "show", "export", "audit"]
    bob = tiny_archive.audit_log()[-1]  # entry 9; reading the log again made entry 10
    assert (bob.id, bob.user, bob.action, bob.patients) == (9, "bob", "audit", ("00012345",))
    assert bob.origin.startswith("chartclerk audit on ") and "as os user" in bob.origin
    with pytest.raises(IntegrityError, match="append-only"), tiny_archive.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET user = 'mallory' WHERE id = 2"))

    # Someone with the database file in hand drops the guards and edits the past...
    db = sqlite3.connect(tiny_settings.archive / "chartclerk.db")
    db.executescript("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
    db.execute("UPDATE audit_log SET user = 'mallory' WHERE id = 2")
    db.commit()
    problems = " | ".join(tiny_archive.verify_audit().problems)
    assert "entry 2 was altered" in problems and "trigger" in problems
    result = run(site, "audit", "--verify")
    assert result.returncode == 5 and "BROKEN" in result.stdout
    # ... or deletes an entry in the middle, and the newest one.
    db.execute("UPDATE audit_log SET user = 'alice' WHERE id = 2")
    db.execute("DELETE FROM audit_log WHERE id IN (4, 10)")
    db.commit()
    db.close()
    problems = " | ".join(tiny_archive.verify_audit().problems)
    assert "entries 4-4 are missing" in problems and "entry 5 does not link" in problems
    assert "entries 10-10 are missing (the newest were deleted)" in problems
    assert "audit" in _kinds(tiny_archive)


# -- crash recovery (in process) ------------------------------------------------------------------


def test_recovery_cleans_crash_leftovers_only_when_alone_and_restores_a_cut_off_refile(
    tmp_path: Path, tiny_settings: Settings, tiny_archive: Archive
) -> None:
    write_png(tmp_path / "a.png", tiny_page(4), dpi=DPI)
    _ingest([tmp_path / "a.png"], tiny_settings, tiny_archive)
    root = tiny_settings.archive
    [doc] = tiny_archive.list_documents()
    leftovers = [
        root / "tmp" / "run-dead" / "0123-00001.pdf",  # a killed run's page PDF
        root / "tmp" / "staged.pdf",
        root / "originals" / "ab" / ".abcd.png.x1y2.tmp",  # a copy cut off mid-way
        root / "documents" / "ab" / ("ab" * 32 + "-p1.pdf"),  # renamed in, never committed
    ]
    for path in leftovers:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(b"leftover")
    # `file` rewrote the PDF's metadata and was killed before its transaction committed:
    pdf = root / doc["pdf_path"]
    os.link(pdf, root / "tmp" / f"{pdf.name}.{'0' * 32}.bak")
    update_pdf_metadata(pdf, PdfMetadata("x", "other", None, None, "x", (1, 1)))
    assert {"hash", "orphan"} <= _kinds(tiny_archive)

    with Archive.open(tiny_settings) as other:  # another process has the archive open
        assert not tiny_archive.recover().ran and not other.recover().ran
        assert all(p.exists() for p in leftovers)
        assert other.verify().notes  # orphans are not judged while others may have files in flight
    report = tiny_archive.recover()
    assert report.ran and report.restored_pdfs == 1 and report.removed_orphan_pdfs == 1
    assert not any(p.exists() for p in leftovers) and not list((root / "tmp").iterdir())
    assert tiny_archive.verify().ok


def test_a_crash_between_a_files_documents_is_finished_by_the_rerun(
    tmp_path: Path, tiny_settings: Settings, tiny_archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = tmp_path / "batch.pdf"
    write_pdf(batch, [tiny_page(5), separator_sheet("PATCHT", kind="qr", dpi=DPI), tiny_page(6)], dpi=DPI)
    real = Archive.archive_document
    calls: list[int] = []

    def dies_on_second(self: Archive, doc: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after this point runs
        return real(self, doc)

    monkeypatch.setattr(Archive, "archive_document", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        ingest_files([batch], tiny_settings, tiny_archive, SerialExecutor())
    monkeypatch.setattr(Archive, "archive_document", real)
    assert len(tiny_archive.list_documents()) == 1
    assert _kinds(tiny_archive) == {"incomplete"}
    assert list(tiny_archive.tmp_dir.iterdir())  # the cut-off run's scratch folder

    [outcome] = ingest_files([batch], tiny_settings, tiny_archive, SerialExecutor())
    assert outcome.status == "archived" and [d.created for d in outcome.documents] == [False, True]
    assert tiny_archive.recover().ran and not list(tiny_archive.tmp_dir.iterdir())
    assert [d["source_pages"] for d in tiny_archive.list_documents()] == [[1, 1], [3, 3]]
    assert tiny_archive.verify().ok


# -- quarantine -----------------------------------------------------------------------------------


def test_quarantine_keeps_long_and_undecodable_names_within_limits(tmp_path: Path) -> None:
    inbox, failed = tmp_path / "inbox", tmp_path / "failed"
    inbox.mkdir()
    names = ["é" * 124 + ".pdf", os.fsdecode(b"\xff\xfe" * 120 + b".tiff"), "same.pdf"]
    for name in names:
        (inbox / name).write_bytes(name.encode("utf-8", "surrogateescape"))
        moved = quarantine(inbox / name, failed, "corrupt PDF:\n  a reason\tover lines")
        reason = moved.with_name(moved.name + REASON_SUFFIX).read_text(encoding="utf-8")
        assert moved.read_bytes() == name.encode("utf-8", "surrogateescape")
        assert len(os.fsencode(moved.name + REASON_SUFFIX)) <= 255 and moved.suffix == Path(name).suffix
        assert reason.startswith("corrupt PDF: a reason over lines") and reason.count("\n") == 1
        assert ("shortened" in reason) == (name != "same.pdf")
    (inbox / "same.pdf").write_bytes(b"second")
    assert quarantine(inbox / "same.pdf", failed, "again").name == "same-1.pdf"
    # A quarantine cut off after moving the file is finished by the next one.
    (failed / "cut.pdf").write_bytes(b"moved")
    (failed / ".cut.pdf.error.tmp").write_text("reason\n")
    assert finish_interrupted(failed) == 1 and (failed / "cut.pdf.error.txt").read_text() == "reason\n"


@pytest.mark.slow
def test_hostile_inputs_get_one_line_a_byte_identical_quarantine_and_the_line_goes_on(
    tmp_path: Path, tiny_settings: Settings, tiny_archive: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    corpus = write_bad_inputs(tiny_settings.inbox, tmp_path / "outside")
    assert len({b.kind for b in corpus}) >= 25
    failed = tiny_settings.failed_dir
    outside = {p: p.read_bytes() for p in (tmp_path / "outside").rglob("*")}
    for bad in corpus:
        before = bad.path.read_bytes() if bad.path.is_file() and not bad.path.is_symlink() else None
        target = bad.outside.read_bytes() if bad.outside is not None else None
        present = set(failed.iterdir()) if failed.is_dir() else set()
        started = time.monotonic()
        outcome = handle_inbox_file(bad.path, tiny_settings, tiny_archive, SerialExecutor())
        assert time.monotonic() - started < 20, bad.kind
        if bad.outcome == "archived":
            assert outcome.status == "archived", (bad.kind, outcome.error)
            assert not os.path.lexists(bad.path)
            continue
        error = outcome.error or ""
        assert outcome.status == "failed" and bad.words in error, (bad.kind, error)
        assert "\n" not in error and str(tiny_settings.inbox) not in error, bad.kind
        if bad.path.is_dir():
            continue  # a folder is reported, never moved (the watcher walks into folders)
        assert not os.path.lexists(bad.path)
        new = set(failed.iterdir()) - present
        [reason] = [p for p in new if p.name.endswith(REASON_SUFFIX)]
        [moved] = new - {reason}
        assert reason.name == moved.name + REASON_SUFFIX and len(os.fsencode(reason.name)) <= 255
        assert reason.read_text(encoding="utf-8").count("\n") == 1 and bad.words in reason.read_text()
        if before is not None:
            assert moved.read_bytes() == before, bad.kind  # byte for byte
        if bad.outside is not None:
            assert moved.is_symlink() and bad.outside.read_bytes() == target  # moved, never followed
    assert {p: p.read_bytes() for p in (tmp_path / "outside").rglob("*")} == outside  # nothing written there

    after = tiny_settings.inbox / "after.png"  # the next file goes through
    write_png(after, tiny_page(20), dpi=DPI)
    assert handle_inbox_file(after, tiny_settings, tiny_archive, SerialExecutor()).status == "archived"
    assert any("\ufffd" in d["source"] for d in tiny_archive.list_documents())  # undecodable name, readable
    assert tiny_archive.verify().ok
    for name in ("ten-thousand", "javascript", "secret", "owner-locked", "x" * 20, "n" * 20, "scan-"):
        assert name not in caplog.text  # logs carry hashes and ids, never file names

    good, bad_rows = write_bad_roster(tmp_path / "roster.csv")
    roster = read_roster_csv(tmp_path / "roster.csv")
    assert len(roster.patients) == good and len(roster.errors) == bad_rows
    assert all(e.startswith("line ") and "\n" not in e for e in roster.errors)


# -- kills and concurrency through the real command line ------------------------------------------


@pytest.mark.slow
def test_ingest_killed_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path, site: Path) -> None:
    expected = write_tiny_corpus(tmp_path / "backlog", 30)
    rng = random.Random(20241209)
    stats = kill_ingest_repeatedly(
        site, [tmp_path / "backlog"], kills=3, rng=rng, min_delay=1.0, max_delay=3.0
    )
    assert stats.killed >= 2, stats
    final = run(site, "ingest", str(tmp_path / "backlog"))
    assert final.returncode == 0, final.stderr
    check = check_archive(site, expected)
    assert check.ok, check
    assert sorted(p.name for p in (tmp_path / "backlog").iterdir()) == sorted(e.name for e in expected)


@pytest.mark.slow
def test_watch_killed_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path, site: Path) -> None:
    inbox = site.parent / "inbox"
    expected = write_tiny_corpus(inbox, 5)
    expected += write_tiny_corpus(inbox / "sub", 2, start=200)
    later = write_tiny_corpus(tmp_path / "later", 2, start=100)  # one there at start, one dropped while down
    drops = [[tmp_path / "later" / later[0].name], [tmp_path / "later" / later[1].name]]
    stats = kill_watch_repeatedly(site, inbox, kills=1, rng=random.Random(7), max_delay=4.0, drops=drops)
    assert stats.killed == 1
    result = watch_until_empty(site, inbox)
    assert result.returncode == 0, result.stderr
    check = check_archive(site, expected + later)
    assert check.ok, check
    assert not (site.parent / "failed").exists() or not list((site.parent / "failed").iterdir())


@pytest.mark.slow
def test_concurrent_ingests_and_watch_with_ingest_neither_lose_nor_duplicate(
    tmp_path: Path, site: Path
) -> None:
    expected = write_tiny_corpus(tmp_path / "all", 8)
    left, right = tmp_path / "left", tmp_path / "right"
    for folder, part in ((left, expected[:6]), (right, expected[2:])):  # four files in both
        folder.mkdir()
        for e in part:
            os.link(tmp_path / "all" / e.name, folder / e.name)
    first, second = start(site, "ingest", str(left)), start(site, "ingest", str(right))
    for proc in (first, second):
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    check = check_archive(site, expected)
    assert check.ok, check

    inbox = site.parent / "inbox"
    more = write_tiny_corpus(inbox, 4, start=300)
    watcher = start(site, "watch")
    try:
        backlog = run(site, "ingest", str(inbox))
        assert backlog.returncode in (0, 1)  # files the watcher took from under it fail here
        deadline = time.monotonic() + 120
        while any(inbox.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(timeout=60) == 0
    check = check_archive(site, expected + more)
    assert check.ok, check
