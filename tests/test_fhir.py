"""FHIR R4 export (US Core Patient and DocumentReference), the read-only /fhir routes and the
release page of the web app."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError

from chartclerk.errors import NotFoundError
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.store.audit import read_entries
from chartclerk.store.fhir import export_ndjson, us_core_problems
from chartclerk.tests.releasedata import add_text_document
from chartclerk.tests.test_web import FAST_ARGON2, FakeClock, csrf, sign_in
from chartclerk.web import create_app
from chartclerk.workers import SerialExecutor

WHEN = dt.datetime(2026, 5, 4, 15, 30, 12, tzinfo=dt.UTC)


def _mrns(archive: Archive) -> list[str]:
    with archive.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT mrn FROM patients ORDER BY mrn LIMIT 2")]


@pytest.fixture
def filed(archive: Archive, tmp_path: Path) -> dict[str, int]:
    mrn, other = _mrns(archive)
    folder = tmp_path / "scans"
    return {
        "lab": add_text_document(archive, folder, ["sodium normal"] * 2, mrn=mrn, when=WHEN),
        "note": add_text_document(
            archive, folder, ["seen today"], mrn=mrn, doc_type="progress_note", loinc=None,
            when=WHEN + dt.timedelta(days=3),
        ),
        "other": add_text_document(archive, folder, ["another person"], mrn=other, when=WHEN),
        "review": add_text_document(archive, folder, ["who is this"], mrn=None, when=WHEN),
    }  # fmt: skip


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_validates_and_follows_us_core(
    archive: Archive, settings: Settings, filed: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "export"
    counts = export_ndjson(archive, settings.release, out)
    patients = _read(out / "Patient.ndjson")
    docs = _read(out / "DocumentReference.ndjson")
    assert counts == {"Patient": len(patients), "DocumentReference": 3} and len(patients) == 40
    assert sorted(int(d["id"]) for d in docs) == sorted(
        [filed["lab"], filed["note"], filed["other"]]
    )  # no review
    for p in patients:
        FhirPatient.model_validate(p)
        assert us_core_problems(p) == []
        ident = p["identifier"][0]
        assert ident["type"]["coding"][0]["code"] == "MR" and ident["system"] == settings.release.mr_system
    for d in docs:
        DocumentReference.model_validate(d)
        assert us_core_problems(d) == []
        assert d["status"] == "current" and d["custodian"]["display"] == settings.release.office_name
        assert d["category"][0]["coding"][0]["code"] == "clinical-note"
    lab = next(d for d in docs if d["id"] == str(filed["lab"]))
    pdf = archive.pdf_path(filed["lab"]).read_bytes()
    att = lab["content"][0]["attachment"]
    assert att["contentType"] == "application/pdf" and att["size"] == len(pdf)
    assert att["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    assert att["url"] == f"Binary/{filed['lab']}" and "data" not in att
    assert lab["date"] == "2026-05-04T15:30:12+00:00"
    assert lab["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11502-2",
        "display": "Laboratory report",
    }
    note = next(d for d in docs if d["id"] == str(filed["note"]))
    assert note["type"]["coding"][0]["code"] == "11506-3"  # from the type when no LOINC was stored
    assert lab["subject"]["reference"] == f"Patient/{_mrns(archive)[0]}"
    assert any(e.action == "fhir export" for e in read_entries(archive.engine))


def test_export_one_patient_inline(
    archive: Archive, settings: Settings, filed: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "one"
    counts = export_ndjson(archive, settings.release, out, patient=_mrns(archive)[0], inline=True)
    assert counts == {"Patient": 1, "DocumentReference": 2}
    docs = _read(out / "DocumentReference.ndjson")
    for d in docs:
        DocumentReference.model_validate(d)
        att = d["content"][0]["attachment"]
        assert (
            base64.b64decode(att["data"]) == archive.pdf_path(int(d["id"])).read_bytes() and "url" not in att
        )
    with pytest.raises(NotFoundError):
        export_ndjson(archive, settings.release, tmp_path / "none", patient="NOPE-1")
    assert not (tmp_path / "none").exists()


def test_broken_resources_are_caught(
    archive: Archive, settings: Settings, filed: dict[str, int], tmp_path: Path
) -> None:
    export_ndjson(archive, settings.release, tmp_path / "x")
    good = _read(tmp_path / "x" / "DocumentReference.ndjson")[0]
    no_subject = copy.deepcopy(good)
    del no_subject["subject"]
    assert "DocumentReference.subject must reference a Patient" in us_core_problems(no_subject)
    naive = copy.deepcopy(good)
    naive["date"] = "2026-05-04T15:30:12"
    assert "DocumentReference.date must be an instant with a time zone" in us_core_problems(naive)
    with pytest.raises(ValidationError):  # the FHIR model refuses an instant without a zone too
        DocumentReference.model_validate(naive)
    no_loinc = copy.deepcopy(good)
    no_loinc["type"]["coding"][0]["system"] = "http://example.org"
    assert "DocumentReference.type needs a LOINC code" in us_core_problems(no_loinc)
    no_content = copy.deepcopy(good)
    no_content["content"][0]["attachment"].pop("url")
    assert "DocumentReference.content.attachment needs a url or data" in us_core_problems(no_content)
    patient = _read(tmp_path / "x" / "Patient.ndjson")[0]
    patient["identifier"][0].pop("system")
    assert "Patient.identifier needs a system and a value" in us_core_problems(patient)


# -- web ------------------------------------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, Archive, dict[str, int]]]:
    app = create_app(settings, clock=FakeClock(), make_executor=SerialExecutor, hasher=FAST_ARGON2)
    state = app.state.web
    from chartclerk.tests.webdata import PATIENTS

    state.archive.import_patients(PATIENTS)
    folder = tmp_path / "scans"
    ids = {
        "lab": add_text_document(state.archive, folder, ["sodium normal"], mrn="00012345", when=WHEN),
        "note": add_text_document(state.archive, folder, ["seen"], mrn="00012345", doc_type="progress_note",
                                  loinc="11506-3", when=WHEN + dt.timedelta(days=3)),
        "review": add_text_document(state.archive, folder, ["who"], mrn=None, when=WHEN),
    }  # fmt: skip
    state.users.add("clara", "clerk", "correct horse battery staple")
    state.users.add("audrey", "auditor", "correct horse battery staple")
    with TestClient(app):
        c = TestClient(app, base_url="http://testserver", follow_redirects=False)
        assert sign_in(c, "clara", "correct horse battery staple").status_code == 303
        c.headers["X-CSRF-Token"] = csrf(c)
        yield c, state.archive, ids


def test_fhir_routes_read_only_audited_and_clerk_only(
    client: tuple[TestClient, Archive, dict[str, int]],
) -> None:
    c, archive, ids = client
    patient = c.get("/fhir/Patient/00012345")
    assert patient.status_code == 200 and patient.headers["content-type"].startswith("application/fhir+json")
    FhirPatient.model_validate(patient.json())
    bundle = c.get("/fhir/DocumentReference", params={"patient": "00012345"}).json()
    assert bundle["total"] == 2
    for e in bundle["entry"]:
        DocumentReference.model_validate(e["resource"])
    typed = c.get(
        "/fhir/DocumentReference", params={"patient": "00012345", "type": "http://loinc.org|11506-3"}
    )
    assert [e["resource"]["id"] for e in typed.json()["entry"]] == [str(ids["note"])]
    dated = c.get("/fhir/DocumentReference", params={"patient": "00012345", "date": "ge2026-05-05"})
    assert [e["resource"]["id"] for e in dated.json()["entry"]] == [str(ids["note"])]
    assert c.get("/fhir/DocumentReference", params={"patient": "00012345", "date": "soon"}).status_code == 400
    binary = c.get(f"/fhir/Binary/{ids['lab']}")
    assert binary.status_code == 200 and binary.content == archive.pdf_path(ids["lab"]).read_bytes()
    assert c.get(f"/fhir/Binary/{ids['review']}").status_code == 404  # in review: not served
    assert c.get("/fhir/Patient/NOPE").status_code == 404
    assert c.post("/fhir/Patient/00012345").status_code == 405  # read-only
    reads = [e for e in read_entries(archive.engine) if e.action == "fhir read" and e.user == "clara"]
    assert len(reads) == 5 and all(e.patients == ("00012345",) for e in reads)
    anonymous = TestClient(c.app, base_url="http://testserver", follow_redirects=False)
    assert anonymous.get("/fhir/Patient/00012345").status_code in (303, 401)


def test_release_page_creates_releases_and_downloads(
    client: tuple[TestClient, Archive, dict[str, int]],
) -> None:
    c, archive, ids = client
    page = c.get("/release")
    assert page.status_code == 200 and "New request" in page.text
    bad = c.post(
        "/release",
        data={"patient": "NOPE", "requester": "R", "address": "A", "purpose": "P", "basis": "legal"},
    )
    assert bad.status_code == 400 and "no patient with MRN NOPE" in bad.text
    form = {"patient": "00012345", "requester": "County <b>Court</b>", "address": "1 Sq",
            "purpose": "subpoena", "basis": "legal", "type": ["lab_report"]}  # fmt: skip
    made = c.post("/release", data=form)
    assert made.status_code == 200 and "Request 1 recorded" in made.text
    assert "County &lt;b&gt;Court&lt;/b&gt;" in made.text  # escaped
    twin = c.get("/api/release").json()
    assert [r["id"] for r in twin["requests"]] == [1] and twin["requests"][0]["status"] == "received"
    released = c.post("/release/1/packet")
    assert released.status_code == 303 and released.headers["location"] == "/release/1/packet"
    pdf = c.get("/release/1/packet")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (
        hashlib.sha256(pdf.content).hexdigest()
        == c.get("/api/release?show_all=true").json()["requests"][0]["packet_sha256"]
    )
    assert c.post("/release/1/packet").status_code == 400  # released once
    kept = archive.root / "releases" / "request-1.pdf"
    kept.chmod(0o644)
    assert any("permissions" in str(p) and "request-1.pdf" in str(p) for p in archive.verify().problems)
    assert c.get("/release/99/packet").status_code == 404
