"""Release of information: requests, packets, the disclosure log, the accounting and the
checkpoints of the hash chains outside the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image
from typer.testing import CliRunner

from chartclerk.cli import app
from chartclerk.errors import NotFoundError, RequestError
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.store.anchor import anchor_for
from chartclerk.store.audit import GENESIS
from chartclerk.store.db import session_scope, write_engine
from chartclerk.store.disclosures import accounting, append_disclosure, disclosure_hash
from chartclerk.store.packet import MARGIN_PT
from chartclerk.store.release import (
    Scope,
    accounting_for,
    deny_request,
    extend_request,
    get_request,
    list_requests,
    new_request,
    release_packet,
    set_restricted,
)
from chartclerk.store.tables import DisclosureRow, ReleaseRequestRow
from chartclerk.tests.releasedata import add_text_document

PDFTOTEXT = shutil.which("pdftotext")
PDFTOPPM = shutil.which("pdftoppm")
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def mrn(archive: Archive) -> str:
    return archive.roster.by_mrns(tuple(p for p in _mrns(archive)))[0].mrn


def _mrns(archive: Archive) -> list[str]:
    with archive.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT mrn FROM patients ORDER BY mrn LIMIT 3")]


@pytest.fixture
def docs(archive: Archive, tmp_path: Path) -> dict[str, int]:
    mrn, other = _mrns(archive)[:2]
    folder = tmp_path / "scans"
    day = dt.datetime(2026, 3, 2, 14, 5, tzinfo=dt.UTC)
    return {
        "lab": add_text_document(archive, folder, ["potassium elevated alpha"] * 2, mrn=mrn, when=day),
        "note": add_text_document(
            archive, folder, ["progress bravo charlie"] * 3, mrn=mrn, doc_type="progress_note",
            loinc="11506-3", when=day + dt.timedelta(days=40),
        ),
        "psych": add_text_document(
            archive, folder, ["sessionnotes delta"], mrn=mrn, doc_type="progress_note", loinc="11506-3",
            when=day + dt.timedelta(days=41),
        ),
        "other": add_text_document(archive, folder, ["someone else echo"], mrn=other, when=day),
        "review": add_text_document(archive, folder, ["unknown foxtrot"], mrn=None, when=day),
    }  # fmt: skip


def _new(archive: Archive, settings: Settings, **kw: object) -> int:
    args: dict[str, object] = {
        "patient": _mrns(archive)[0],
        "requester": "Dr. Ames, Cardiology",
        "address": "1 Main Street, Springfield",
        "purpose": "continuing care",
        "basis": "treatment",
        "scope": Scope(),
    }
    args.update(kw)
    return new_request(archive, settings.release, **args).id  # type: ignore[arg-type]


def _counts(archive: Archive) -> tuple[int, int, int]:
    with archive.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
            for t in ("release_requests", "disclosures", "audit_log")
        )


# -- requests -------------------------------------------------------------------------------------


def test_access_request_is_due_in_30_days_and_extends_once(
    archive: Archive, settings: Settings, docs: dict[str, int]
) -> None:
    req = new_request(
        archive, settings.release, patient=_mrns(archive)[0], requester="the patient", address="home",
        purpose="personal copy", basis="access", scope=Scope(),
    )  # fmt: skip
    assert req.due_on == TODAY + dt.timedelta(days=30) and req.status == "received"
    extended = extend_request(archive, settings.release, req.id, "records off site")
    assert extended.due_on == TODAY + dt.timedelta(days=60)
    assert extended.status == "extended" and extended.extension_reason == "records off site"
    with pytest.raises(RequestError, match="only a received request"):
        extend_request(archive, settings.release, req.id, "again")
    due = list_requests(archive, due_before=TODAY + dt.timedelta(days=61))
    assert [r.id for r in due] == [req.id]
    assert list_requests(archive, due_before=TODAY + dt.timedelta(days=59)) == []
    denied = deny_request(archive, req.id, "not the patient's signature")
    assert denied.status == "denied" and denied.status_reason == "not the patient's signature"
    with pytest.raises(RequestError):
        release_packet(archive, settings.release, req.id, archive.root.parent / "x.pdf")


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"patient": "NOPE-999"}, NotFoundError, "no patient with MRN NOPE-999"),
        ({"scope": Scope(types=("operative_report",))}, RequestError, "no filed documents"),
        ({"scope": Scope(date_from=dt.date(2030, 1, 1))}, RequestError, "no filed documents"),
        ({"due_on": TODAY - dt.timedelta(days=1)}, RequestError, "is in the past"),
        ({"basis": "access", "due_on": TODAY + dt.timedelta(days=45)}, RequestError, "within 30 days"),
        ({"basis": "gossip"}, RequestError, "unknown basis"),
        ({"requester": "  "}, RequestError, "requester must not be empty"),
    ],
)
def test_bad_requests_are_one_line_errors_and_write_nothing(
    archive: Archive,
    settings: Settings,
    docs: dict[str, int],
    kw: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    before = _counts(archive)
    with pytest.raises(error, match=message) as info:
        _new(archive, settings, **kw)
    assert "\n" not in str(info.value)
    assert _counts(archive) == before


def test_another_patients_or_a_review_document_by_id_is_refused(
    archive: Archive, settings: Settings, docs: dict[str, int]
) -> None:
    before = _counts(archive)
    with pytest.raises(RequestError, match=f"document {docs['other']} belongs to another patient"):
        _new(archive, settings, scope=Scope(documents=(docs["lab"], docs["other"])))
    with pytest.raises(RequestError, match="in review"):
        _new(archive, settings, scope=Scope(documents=(docs["review"],)))
    with pytest.raises(NotFoundError, match="document 9999 not found"):
        _new(archive, settings, scope=Scope(documents=(9999,)))
    assert _counts(archive) == before


def test_cli_bad_input_is_one_line_and_nothing_written(
    archive: Archive, settings: Settings, docs: dict[str, int], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    base = ["--config", str(config), "release", "new", "--requester", "R", "--address", "A", "--purpose", "P"]
    before = _counts(archive)
    cases = [
        (["--patient", "NOPE-1", "--basis", "treatment"], "no patient with MRN NOPE-1"),
        (["--patient", _mrns(archive)[0], "--basis", "legal", "--due", "2020-01-01"], "is in the past"),
        (
            ["--patient", _mrns(archive)[0], "--basis", "legal", "--type", "operative_report"],
            "no filed documents",
        ),
        (
            ["--patient", _mrns(archive)[0], "--basis", "legal", "--document", str(docs["other"])],
            "another patient",
        ),
    ]
    for args, message in cases:
        result = subprocess.run(
            [sys.executable, "-c", "from chartclerk.cli import main; main()", *base, *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
    assert _counts(archive) == before


# -- the packet -----------------------------------------------------------------------------------


def _pdftotext_pages(path: Path) -> list[str]:
    assert PDFTOTEXT is not None
    out = subprocess.run(
        [PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.split("\f")[:-1]


def _render(path: Path, page: int, dpi: int = 40) -> np.ndarray:
    assert PDFTOPPM is not None
    out = subprocess.run(
        [PDFTOPPM, "-r", str(dpi), "-gray", "-f", str(page), "-l", str(page), str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    import io

    return np.asarray(Image.open(io.BytesIO(out.stdout)).convert("L"), dtype=np.int16)


def test_packet_has_cover_stamps_text_and_recorded_hash(
    archive: Archive, settings: Settings, docs: dict[str, int], tmp_path: Path
) -> None:
    mrn = _mrns(archive)[0]
    assert set_restricted(archive, docs["psych"], restricted=True, reason="psychotherapy notes")
    assert not set_restricted(archive, docs["psych"], restricted=True, reason="again")
    req_id = _new(archive, settings)
    out = tmp_path / "out" / "packet.pdf"
    done = release_packet(archive, settings.release, req_id, out)

    # page count: the documents' pages (2 + 3; the restricted one withheld) plus the cover
    assert done.packet.cover_pages == 1 and done.withheld == 1
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == done.packet.pages == 1 + 2 + 3
        # the scan keeps its place: each document page grew by the strip, below the scan
        for page in list(pdf.pages)[1:]:
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            assert y0 == pytest.approx(-MARGIN_PT) and y1 == pytest.approx(1100 * 72 / 100)
    # recorded hash = the file's hash, in the request and the disclosure
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert done.packet.sha256 == digest
    request = get_request(archive, req_id)
    assert request.status == "released" and request.packet_sha256 == digest and request.packet_pages == 6
    with archive.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT packet_sha256, documents, recipient FROM disclosures").one()
    assert (
        row[0] == digest and row[1] == f"[{docs['lab']},{docs['note']}]" and row[2] == "Dr. Ames, Cardiology"
    )

    texts = _pdftotext_pages(out)
    assert len(texts) == 6
    cover = " ".join(texts[0].split())
    assert "Dr. Ames, Cardiology" in cover and mrn in cover and "continuing care" in cover
    assert (
        f"{docs['lab']} lab_report 2026-03-02 2" in cover
        and f"{docs['note']} progress_note 2026-04-11 3" in cover
    )
    assert f"document {docs['psych']} (progress_note, 2026-04-12): restricted" in cover
    for n, text in enumerate(texts, 1):
        flat = " ".join(text.split())
        assert f"MRN {mrn} | Request {req_id} | page {n} of 6 | CONFIDENTIAL" in flat, n
    assert "potassium elevated alpha" in texts[1] and "progress bravo charlie" in texts[5]  # still searchable
    assert "sessionnotes" not in " ".join(texts)

    # the stamp is outside the scan: the scan area renders as the document alone does
    original = _render(archive.pdf_path(docs["lab"]), 1)
    stamped = _render(out, 2)
    strip = stamped.shape[0] - original.shape[0]
    assert strip == pytest.approx(MARGIN_PT / 72 * 40, abs=1)
    assert np.abs(stamped[: original.shape[0]] - original).mean() < 1.0
    assert (stamped[original.shape[0] :] < 128).any()  # the stamp is drawn in the strip


def test_restricted_documents_go_only_when_the_request_includes_them(
    archive: Archive, settings: Settings, docs: dict[str, int], tmp_path: Path
) -> None:
    set_restricted(archive, docs["psych"], restricted=True, reason="42 CFR Part 2")
    chosen = _new(archive, settings, scope=Scope(documents=(docs["psych"],)))
    done = release_packet(archive, settings.release, chosen, tmp_path / "a.pdf")
    assert done.packet.pages == 2 and done.withheld == 0
    included = _new(archive, settings, scope=Scope(include_restricted=True, types=("progress_note",)))
    assert release_packet(archive, settings.release, included, tmp_path / "b.pdf").packet.pages == 1 + 3 + 1
    only_restricted = _new(archive, settings, scope=Scope(date_from=dt.date(2026, 4, 12)))
    before = _counts(archive)
    with pytest.raises(RequestError, match="all are withheld"):
        release_packet(archive, settings.release, only_restricted, tmp_path / "c.pdf")
    assert not (tmp_path / "c.pdf").exists() and _counts(archive) == before
    assert set_restricted(archive, docs["psych"], restricted=False, reason="consent on file")
    entries = [e.action for e in archive.audit_log()]
    assert entries.count("restrict") == 1 and entries.count("unrestrict") == 1


def test_rotated_page_is_stamped_on_its_shown_bottom(tmp_path: Path) -> None:
    from chartclerk.store.packet import CoverLetter, PacketDocument, write_packet

    src = tmp_path / "rot.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(300, 500))
        pdf.pages[0].obj.Rotate = 90
        pdf.save(src)
    cover = CoverLetter("Office", "", 7, TODAY, "R", "A", "P N", "M1", dt.date(1970, 1, 1), "p", "legal",
                        (PacketDocument(1, "other", TODAY, 1, src),), ())  # fmt: skip
    write_packet(cover, tmp_path / "p.pdf")
    with pikepdf.open(tmp_path / "p.pdf") as pdf:
        assert [float(v) for v in pdf.pages[1].mediabox] == [0, 0, 300 + MARGIN_PT, 500]
    assert "page 2 of 2 | CONFIDENTIAL" in " ".join(_pdftotext_pages(tmp_path / "p.pdf")[1].split())


# -- disclosures and the accounting ---------------------------------------------------------------


def _disclose(archive: Archive, mrn: str, basis: str, at: dt.datetime, recipient: str) -> None:
    with session_scope(write_engine(archive.engine)) as session:
        append_disclosure(
            session, archive.actor, patient_mrn=mrn, recipient=recipient, address="addr", description="labs",
            purpose="p", basis=basis, request_id=None, documents=[1], packet_sha256="0" * 64, at=at,
        )  # fmt: skip


def test_accounting_leaves_out_exempt_and_older_than_six_years(
    archive: Archive, settings: Settings, tmp_path: Path
) -> None:
    mrn, other = _mrns(archive)[:2]
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    for basis in ("treatment", "payment", "operations", "access", "authorization"):
        _disclose(archive, mrn, basis, now - dt.timedelta(days=10), f"exempt {basis}")
    _disclose(archive, mrn, "legal", dt.datetime(2020, 11, 27, tzinfo=dt.UTC), "too old court")
    _disclose(archive, mrn, "legal", dt.datetime(2020, 11, 29, tzinfo=dt.UTC), "county court")
    _disclose(archive, mrn, "public-health", now - dt.timedelta(days=3), "state registry")
    _disclose(archive, other, "legal", now - dt.timedelta(days=3), "other patient's court")
    report = accounting_for(archive, settings.release, mrn, now=now)
    assert [d.recipient for d in report.entries] == ["county court", "state registry"]
    for d in report.entries:  # 164.528(b)(2): date, recipient and address, description, purpose
        assert d.at and d.recipient and d.address and d.description and d.purpose
    since = accounting_for(
        archive, settings.release, mrn, now=now, since=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert [d.recipient for d in since.entries] == ["state registry"]
    assert len(accounting(archive.engine, mrn, now=now, years=10)) == 3
    with pytest.raises(NotFoundError):
        accounting_for(archive, settings.release, "NOPE-1", now=now)

    from chartclerk.store.disclosures import write_accounting

    write_accounting(report, tmp_path / "acc.csv", settings.release)
    rows = (tmp_path / "acc.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("date,recipient,address,description,purpose") and len(rows) == 3
    write_accounting(report, tmp_path / "acc.pdf", settings.release)
    text = " ".join(" ".join(_pdftotext_pages(tmp_path / "acc.pdf")).split())
    assert "county court" in text and "state registry" in text and "exempt" not in text


def test_tampered_disclosure_log_fails_verify(archive: Archive, settings: Settings) -> None:
    mrn = _mrns(archive)[0]
    for i in range(3):
        _disclose(archive, mrn, "legal", dt.datetime.now(dt.UTC), f"court {i}")
    assert archive.verify().ok, archive.verify().problems
    db = settings.archive / "chartclerk.db"
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER disclosures_no_update")
        raw.execute("UPDATE disclosures SET recipient = 'someone else' WHERE id = 2")
    problems = [str(p) for p in archive.verify().problems]
    assert any("disclosure entry 2 was altered" in p for p in problems), problems
    assert any("append-only trigger" in p for p in problems), problems


def test_rewritten_database_with_a_consistent_chain_is_caught_by_the_checkpoints(
    archive: Archive, settings: Settings
) -> None:
    mrn = _mrns(archive)[0]
    for i in range(3):
        _disclose(archive, mrn, "legal", dt.datetime.now(dt.UTC), f"court {i}")
    archive.record_access("show", {"documents": [1]}, [mrn])
    anchor = anchor_for(archive.engine)
    assert anchor is not None and anchor.path.is_file()
    assert not anchor.path.is_relative_to(settings.archive)  # outside the archive
    latest, _ = anchor.latest()
    assert latest["disclosures"].entry_id == 3 and latest["audit"].entry_id >= 1
    assert archive.verify().ok

    # Rewrite the disclosure log consistently: entry 2 changed and every hash after it recomputed.
    db = settings.archive / "chartclerk.db"
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER disclosures_no_update")
        raw.execute("UPDATE disclosures SET recipient = 'forged' WHERE id = 2")
    with session_scope(write_engine(archive.engine)) as session:
        prev = GENESIS
        for row in session.query(DisclosureRow).order_by(DisclosureRow.id):
            row.prev_hash = prev
            row.hash = disclosure_hash(row)
            prev = row.hash
    with sqlite3.connect(db) as raw:  # put the trigger back: the database looks untouched
        raw.execute(
            "CREATE TRIGGER disclosures_no_update BEFORE UPDATE ON disclosures BEGIN "
            "SELECT RAISE(ABORT, 'disclosure log is append-only'); END"
        )
    problems = [str(p) for p in archive.verify().problems]
    assert not any("disclosure entry" in p for p in problems), problems  # the chain itself is consistent
    assert any("anchor: disclosures log: entry 3 has hash" in p and "rewritten" in p for p in problems), (
        problems
    )

    # ...and the same for the audit log, rebuilt from scratch with fewer entries.
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER audit_log_no_delete")
        raw.execute("DELETE FROM audit_log")
        raw.execute("DELETE FROM sqlite_sequence WHERE name = 'audit_log'")
    problems = [str(p) for p in archive.verify().problems]
    assert any(p.startswith("anchor: audit log: entry") for p in problems), problems


def test_checkpoint_file_removed_is_reported(archive: Archive, settings: Settings) -> None:
    archive.record_access("show", {"documents": [1]}, [])
    anchor = anchor_for(archive.engine)
    assert anchor is not None
    anchor.path.unlink()
    problems = [str(p) for p in archive.verify().problems]
    assert any("no checkpoint" in p for p in problems), problems


def test_release_cli_end_to_end(
    archive: Archive, settings: Settings, docs: dict[str, int], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    runner = CliRunner()
    mrn = _mrns(archive)[0]
    new = runner.invoke(app, [
        "--config", str(config), "release", "new", "--patient", mrn, "--requester", "County Court",
        "--address", "2 Court Sq", "--purpose", "subpoena 42", "--basis", "legal", "--type", "lab_report",
    ])  # fmt: skip
    assert new.exit_code == 0, new.output
    req_id = int(new.output.split()[1])
    listed = runner.invoke(app, ["--config", str(config), "release", "list"])
    assert f"{req_id}" in listed.output and "legal" in listed.output, listed.output
    out = tmp_path / "packet.pdf"
    packet = runner.invoke(
        app, ["--config", str(config), "release", "packet", str(req_id), "--out", str(out)]
    )
    assert packet.exit_code == 0, packet.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() in packet.output
    acc = runner.invoke(app, ["--config", str(config), "disclosures", mrn])
    assert acc.exit_code == 0 and "County Court" in acc.output and "1 accountable" in acc.output, acc.output
    restrict = runner.invoke(
        app, ["--config", str(config), "restrict", str(docs["note"]), "--reason", "Part 2"]
    )
    assert restrict.exit_code == 0 and "is now restricted" in restrict.output
    verify = runner.invoke(app, ["--config", str(config), "verify"])
    assert verify.exit_code == 0, verify.output
    with archive.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM release_requests").scalar() == "released"
    assert ReleaseRequestRow.__tablename__ == "release_requests"
