"""The command line, as a clerk and outside tools use it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chartclerk.tests.scans import FakePatient, distort, render_document, write_pdf, write_roster_csv

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "chartclerk")
COMMANDS = ["patients import", "ingest", "watch", "search", "list", "show", "export", "file"]
COMMANDS += ["audit", "verify"]  # reliability and audit
COMMANDS += ["review", "coversheet"]  # patient identification
COMMANDS += ["classify", "train"]  # document typing
COMMANDS += ["serve", "users add", "users list", "users disable", "users reset"]  # web app
COMMANDS += ["release new", "release list", "release extend", "release deny", "release packet"]  # release
COMMANDS += ["restrict", "disclosures", "fhir export"]  # release of information
COMMANDS += ["worker", "status"]  # distributed page work
COMMANDS += ["duplicate"]  # findability
COMMANDS += ["deficiencies", "deficiencies resolve", "deficiencies dismiss"]  # chart deficiencies


def run(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [CLI, "--config", str(config), *args], capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "inbox: inbox\narchive: archive\ndatabase: null\nworkers: 2\nwatch:\n  stable_seconds: 0.5\n"
    )
    return cfg


def wait_for(predicate: Any, deadline_s: float, what: str) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_command_has_help_with_an_example_and_is_in_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        result = subprocess.run([CLI, *command.split(), "--help"], capture_output=True, text=True, check=True)
        assert "Example: chartclerk " + command in " ".join(result.stdout.split()), command
        assert f"chartclerk {command}" in readme, command


def test_bad_files_fail_ingest_with_one_line_each_and_are_left_alone(tmp_path: Path, config: Path) -> None:
    (tmp_path / "zero.pdf").write_bytes(b"")
    (tmp_path / "memo.txt").write_text("hello\n")
    result = run(config, "ingest", str(tmp_path / "zero.pdf"), str(tmp_path / "memo.txt"), check=False)
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and "empty file" in failed[0] and "text file" in failed[1]
    assert "2 failed" in result.stdout
    assert (tmp_path / "zero.pdf").exists() and (tmp_path / "memo.txt").read_text() == "hello\n"


def test_config_errors_and_missing_documents_are_clean_messages(tmp_path: Path, config: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workers: -1\n")
    result = run(bad, "list", check=False)
    assert result.returncode == 6 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    result = run(config, "show", "12345", check=False)
    assert result.returncode == 8 and result.stderr.startswith("error: ")


@pytest.mark.slow
def test_watched_inbox_end_to_end(tmp_path: Path, config: Path) -> None:
    from chartclerk.tests.scans import make_roster

    roster: list[FakePatient] = make_roster(30, seed=3)
    write_roster_csv(tmp_path / "roster.csv", roster)
    assert "imported 30 patients" in run(config, "patients", "import", str(tmp_path / "roster.csv")).stdout

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "already-there.txt").write_text("not a scan")
    watcher = subprocess.Popen([CLI, "--config", str(config), "watch"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        doc = render_document("radiology_report", roster[4], seed=21, dpi=200)
        write_pdf(
            tmp_path / "xray.pdf",
            [distort(doc.pages[0], skew_degrees=6, quarter_turns_ccw=1, seed=4)],
            dpi=200,
        )
        data = (tmp_path / "xray.pdf").read_bytes()
        with (inbox / "xray.pdf").open("wb") as f:  # written slowly, like a scanner on a share
            for i in range(0, len(data), len(data) // 4 + 1):
                f.write(data[i : i + len(data) // 4 + 1])
                f.flush()
                time.sleep(0.2)

        def searchable() -> list[dict[str, Any]]:
            hits: list[dict[str, Any]] = json.loads(run(config, "search", "impression", "--json").stdout)
            return hits

        hits = wait_for(searchable, 180, "the scan to become searchable")
        wait_for(lambda: (tmp_path / "failed" / "already-there.txt.error.txt").exists(), 30, "quarantine")
        assert not (inbox / "xray.pdf").exists()
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err

    assert {"document_id", "page", "snippet"} <= set(hits[0]) and hits[0]["page"] == 1
    assert re.search(r"\[impression\]", hits[0]["snippet"], re.IGNORECASE)
    docs = json.loads(run(config, "list", "--json").stdout)
    assert len(docs) == 1
    [doc_json] = docs
    assert doc_json["type"] == "radiology_report" and doc_json["loinc"] == "18748-4"
    assert doc_json["status"] == "filed" and doc_json["patient_mrn"] == roster[4].mrn
    assert doc_json["pages"][0]["rotation_degrees"] == 90
    assert abs(doc_json["pages"][0]["skew_degrees"] - 6) < 0.3
    shown = json.loads(run(config, "show", str(doc_json["id"]), "--json").stdout)
    assert "IMPRESSION" in shown["pages"][0]["text"].upper()

    run(config, "export", str(doc_json["id"]), "--out", str(tmp_path / "out.pdf"))
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "out.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "IMPRESSION" in text.upper()

    run(config, "file", str(doc_json["id"]), "--patient", roster[5].mrn, "--type", "other")
    refiled = json.loads(run(config, "show", str(doc_json["id"]), "--json").stdout)
    assert refiled["patient_mrn"] == roster[5].mrn and refiled["type"] == "other"
    assert json.loads(run(config, "list", "--patient", roster[4].mrn, "--json").stdout) == []

    contract = ROOT.parent / "shared" / "contract_check.py"
    if contract.exists():
        env = {**os.environ, "PATH": f"{Path(CLI).parent}{os.pathsep}{os.environ['PATH']}"}
        command = [sys.executable, str(contract), "--config", str(config), "--query", "impression"]
        check = subprocess.run(command,
                               capture_output=True, text=True, env=env)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
