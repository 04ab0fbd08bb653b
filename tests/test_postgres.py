"""The archive on PostgreSQL beyond the shared archive and search tests: every command of the
CLI on a PostgreSQL database, the audit log append-only, and page jobs' bookkeeping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.tests.scans import make_roster, render_document, write_pdf, write_roster_csv
from chartclerk.tests.services import PostgresServer

CLI = str(Path(sys.executable).parent / "chartclerk")


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CLI, "--config", str(config), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args} exited {done.returncode}: {done.stderr}"
    return done


@pytest.fixture
def pg_config(tmp_path: Path, postgres: PostgresServer) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"inbox: inbox\narchive: archive\ndatabase: '{postgres.create_database('cli')}'\nworkers: 1\n",
        encoding="utf-8",
    )
    return config


def test_every_archive_command_works_on_postgresql(tmp_path: Path, pg_config: Path) -> None:
    roster = make_roster(20, seed=5)
    write_roster_csv(tmp_path / "roster.csv", roster)
    assert "imported 20 patients" in run(pg_config, "patients", "import", str(tmp_path / "roster.csv")).stdout
    doc = render_document("lab_report", roster[2], seed=8, dpi=200)
    write_pdf(tmp_path / "lab.pdf", doc.pages[:1], dpi=200)
    assert "1 archived" in run(pg_config, "ingest", str(tmp_path / "lab.pdf")).stdout
    [listed] = json.loads(run(pg_config, "list", "--json").stdout)
    assert listed["type"] == "lab_report" and listed["patient_mrn"] == roster[2].mrn
    hits = json.loads(run(pg_config, "search", "laboratory", "--json").stdout)
    assert [h["document_id"] for h in hits] == [listed["id"]] and "[" in hits[0]["snippet"]
    scoped = json.loads(run(pg_config, "search", "laboratory", "--patient", roster[2].mrn, "--json").stdout)
    assert [h["document_id"] for h in scoped] == [listed["id"]]
    assert (
        json.loads(run(pg_config, "search", "laboratory", "--patient", roster[3].mrn, "--json").stdout) == []
    )
    shown = json.loads(run(pg_config, "show", str(listed["id"]), "--json").stdout)
    assert shown["pages"][0]["text"]
    run(pg_config, "export", str(listed["id"]), "--out", str(tmp_path / "out.pdf"))
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")
    run(pg_config, "file", str(listed["id"]), "--patient", roster[4].mrn)
    assert json.loads(run(pg_config, "review", "--json").stdout) == []
    entries = json.loads(run(pg_config, "audit", "--json").stdout)
    assert {"search", "list", "show", "export"} <= {e["action"] for e in entries}
    run(pg_config, "audit", "--verify")
    assert "0 problems" in run(pg_config, "verify").stdout
    assert json.loads(run(pg_config, "status", "--json").stdout)["workers"] == []


def test_the_audit_and_disclosure_logs_are_append_only_on_postgresql(pg_config: Path) -> None:
    with Archive.open(load_settings(pg_config)) as archive:
        archive.record_access("search", {"query": "x"}, [])
        for statement in (
            "UPDATE audit_log SET \"user\" = 'mallory'",
            "DELETE FROM audit_log",
            "UPDATE disclosures SET recipient = 'mallory'",
            "DELETE FROM disclosures",
            "TRUNCATE disclosures",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(DBAPIError, match="append-only"), archive.engine.begin() as conn:
                conn.execute(text(statement))
        assert archive.verify_audit().problems == ()
