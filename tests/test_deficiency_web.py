"""The Deficiencies page and its JSON twin: each finding drawn as a box on its page image,
resolve and dismiss with a reason, under the sign-in, role, CSRF and audit of every page."""

from __future__ import annotations

import random
import re
from pathlib import Path

from fastapi.testclient import TestClient

from chartclerk.settings import Settings
from chartclerk.store.audit import read_entries
from chartclerk.tests.deficiencyforms import archive_pages, signature_form
from chartclerk.tests.test_web import FAST_ARGON2, PASSWORD, FakeClock, csrf, sign_in
from chartclerk.web.app import create_app
from chartclerk.workers import SerialExecutor


def test_deficiencies_page_draws_findings_and_closes_them(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings, clock=FakeClock(), make_executor=SerialExecutor, hasher=FAST_ARGON2)
    state = app.state.web
    scans = tmp_path / "scans"
    unsigned = archive_pages(state.archive, scans, [signature_form(random.Random(3), "unsigned")], mrn=None)
    signed = archive_pages(state.archive, scans, [signature_form(random.Random(4), "signed")], mrn=None)
    state.users.add("clara", "clerk", PASSWORD)
    state.users.add("audrey", "auditor", PASSWORD)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        assert client.get("/deficiencies").status_code == 303  # signed out: to the sign-in page
        assert sign_in(client, "clara").status_code == 303
        page = client.get("/deficiencies")
        assert page.status_code == 200
        assert f"/documents/{unsigned}/pages/1/screen" in page.text
        assert f"/documents/{signed}/pages/1/screen" not in page.text
        boxes = re.findall(r'<rect class="finding" data-finding="(\d+)" x="([\d.]+)" y="([\d.]+)"', page.text)
        assert len(boxes) == 1 and 0.3 < float(boxes[0][2]) < 0.42
        assert "holds no handwriting" in page.text and "Physician Signature" in page.text
        client.headers["X-CSRF-Token"] = csrf(client)
        data = client.get("/api/deficiencies").json()
        assert [(i["document_id"], i["kind"]) for i in data["items"]] == [(unsigned, "signature_missing")]
        finding = data["items"][0]["id"]
        assert str(finding) == boxes[0][0]
        filtered = client.post("/api/deficiencies", json={"kind": "pages_missing"}).json()
        assert filtered == []
        refused = client.post(
            f"/deficiencies/{finding}/resolve", data={"reason": "x"}, headers={"X-CSRF-Token": ""}
        )
        assert refused.status_code == 403  # no CSRF token: nothing changed
        closed = client.post(
            f"/deficiencies/{finding}/dismiss",
            data={"reason": "initials are enough here", "csrf_token": csrf(client)},
        )
        assert closed.status_code == 200 and f"Finding {finding} dismissed." in closed.text
        assert client.get("/api/deficiencies").json()["items"] == []
        again = client.post(f"/api/deficiencies/{finding}/resolve", json={"reason": "signed"})
        assert again.status_code == 400 and "already dismissed" in again.json()["error"]
        all_ = client.post("/api/deficiencies", json={"status": "all"}).json()
        assert all_[0]["closed_by"] == "clara" and all_[0]["reason"] == "initials are enough here"
        assert (
            client.post("/deficiencies/1/undo", data={"reason": "x", "csrf_token": csrf(client)}).status_code
            == 404
        )
    other = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert sign_in(other, "audrey").status_code == 303
    assert other.get("/deficiencies").status_code == 403  # clerks' work
    actions = [(e.user, e.action) for e in read_entries(state.archive.engine)]
    assert ("clara", "deficiencies") in actions and ("clara", "deficiency dismissed") in actions
    state.archive.close()
