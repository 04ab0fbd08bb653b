"""The web app at the route level (FastAPI's TestClient): sign-in, sessions, roles, CSRF, the
pages and their JSON twins, audit entries, hostile input. Real browser tests are in
test_web_browser.py."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from chartclerk.classify import DOC_TYPES
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.store.users import UserStore
from chartclerk.tests.webdata import build_archive
from chartclerk.web import create_app
from chartclerk.web.auth import audited_archive, current_session, is_role_check
from chartclerk.workers import SerialExecutor

PASSWORD = "correct horse battery staple"
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # still argon2id, cheap


class FakeClock:
    """A clock the test moves: sessions expire when the test says so."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Site:
    app: Any
    archive: Archive
    users: UserStore
    clock: FakeClock
    ids: dict[str, int]
    tmp: Path

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver", follow_redirects=False)


@pytest.fixture
def site(settings: Settings, tmp_path: Path) -> Iterator[Site]:
    settings = settings.model_copy(
        update={"web": settings.web.model_copy(update={"max_upload_mb": 1, "max_failed_logins": 3})}
    )
    clock = FakeClock()
    app = create_app(settings, clock=clock, make_executor=SerialExecutor, hasher=FAST_ARGON2)
    state = app.state.web
    ids = build_archive(state.archive, tmp_path / "scans")
    for name, role in (("clara", "clerk"), ("audrey", "auditor"), ("adam", "admin")):
        state.users.add(name, role, PASSWORD)
    with TestClient(app):  # runs the lifespan: the archive is closed at the end
        yield Site(app, state.archive, state.users, clock, ids, tmp_path)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post("/login", data={"name": name, "password": password, "login_token": token.group(1)})


def csrf(client: TestClient) -> str:
    token: str = client.get("/api/session").json()["csrf_token"]
    return token


def signed_in(site: Site, name: str = "clara") -> TestClient:
    client = site.client()
    assert sign_in(client, name).status_code == 303
    client.headers["X-CSRF-Token"] = csrf(client)
    return client


def audit_actions(site: Site, user: str) -> list[tuple[str, dict[str, Any]]]:
    from chartclerk.store.audit import read_entries

    return [(e.action, dict(e.target)) for e in read_entries(site.archive.engine) if e.user == user]


# -- every route is guarded -------------------------------------------------------------------------


def _calls(dependant: Any) -> list[Any]:
    found = []
    for dep in dependant.dependencies:
        found.append(dep.call)
        found.extend(_calls(dep))
    return found


def _endpoints(app: Any) -> Iterator[tuple[str, Any]]:
    """(path, dependant) of every route; routers included by FastAPI >= 0.16x are walked through."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                yield context.path, context.dependant
        elif isinstance(route, APIRoute):
            yield route.path, route.dependant
        else:
            yield getattr(route, "path", repr(route)), None


def test_every_route_has_login_role_and_audit(site: Site) -> None:
    checked = 0
    for path, dependant in _endpoints(site.app):
        if path == "/login" or path.startswith("/static"):
            continue
        assert dependant is not None, f"{path} is not an API route"
        calls = _calls(dependant)
        assert current_session in calls, f"{path} has no login check"
        assert any(is_role_check(c) for c in calls), f"{path} has no role check"
        assert audited_archive in calls, f"{path} does not read through the audited archive"
        checked += 1
    assert checked >= 30


# -- sign-in, sessions --------------------------------------------------------------------------------


def test_sign_in_sign_out_and_a_stolen_cookie(site: Site) -> None:
    client = site.client()
    assert client.get("/search").headers["location"] == "/login"
    response = sign_in(client, "clara")
    assert response.status_code == 303
    cookie = response.cookies["chartclerk_session"]
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" not in set_cookie
    assert client.get("/search").status_code == 200
    token = csrf(client)
    assert client.post("/logout", data={"csrf_token": token}).headers["location"] == "/login"
    thief = site.client()
    thief.cookies.set("chartclerk_session", cookie)
    assert thief.get("/search").status_code == 303  # back to /login: the session has ended
    assert thief.get("/api/session").status_code == 401
    assert [t["outcome"] for a, t in audit_actions(site, "clara") if a == "login"] == ["signed in"]


def test_bad_password_then_lockout_per_user_and_per_address(site: Site) -> None:
    client = site.client()
    for _ in range(3):
        response = sign_in(client, "clara", "wrong password!!")
        assert response.status_code == 401 and "Wrong user name or password" in response.text
    locked = sign_in(client, "clara")  # the right password, but locked out
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert "chartclerk_session" not in locked.cookies
    outcomes = [t["outcome"] for a, t in audit_actions(site, "clara") if a == "login"]
    assert outcomes == ["refused", "refused", "refused", "locked out"]
    unknown = sign_in(client, "nobody", "whatever it is")
    assert unknown.status_code == 401 and "Wrong user name or password" in unknown.text  # same message
    site.clock.advance(minutes=16)  # the window has passed
    assert sign_in(site.client(), "clara").status_code == 303
    # per address: 20 failures from one address over many names lock that address
    for i in range(20):
        sign_in(client, f"guess{i}", "wrong password!!")
    assert sign_in(client, "audrey").status_code == 429


def test_idle_timeout_and_absolute_cap(site: Site) -> None:
    client = signed_in(site)
    site.clock.advance(minutes=14)
    assert client.get("/search").status_code == 200  # used: the idle clock restarts
    site.clock.advance(minutes=14)
    assert client.get("/search").status_code == 200
    site.clock.advance(minutes=16)
    assert client.get("/search").headers["location"] == "/login"
    client = signed_in(site)
    began = site.clock.now
    for _ in range(80):  # busy all day, every 10 minutes
        site.clock.advance(minutes=10)
        if client.get("/api/session").status_code != 200:
            break
    lasted = site.clock.now - began
    assert dt.timedelta(hours=12) < lasted <= dt.timedelta(hours=12, minutes=10)
    assert client.get("/api/session").status_code == 401


def test_csrf_is_required_on_every_change(site: Site) -> None:
    client = signed_in(site)
    del client.headers["X-CSRF-Token"]
    assert client.post("/search", data={"q": "chest"}).status_code == 403
    assert client.post("/search", data={"q": "chest", "csrf_token": "forged"}).status_code == 403
    assert client.post("/api/search", json={"query": "chest"}).status_code == 403
    assert client.post("/logout").status_code == 403
    assert client.post("/search", data={"q": "chest", "csrf_token": csrf(client)}).status_code == 200
    other = site.client()  # a sign-in form not from this browser
    response = other.post("/login", data={"name": "clara", "password": PASSWORD, "login_token": "x" * 43})
    assert response.status_code == 403


def test_roles_are_checked_on_the_server(site: Site) -> None:
    clerk, auditor, admin = signed_in(site, "clara"), signed_in(site, "audrey"), signed_in(site, "adam")
    assert clerk.get("/audit").status_code == 403
    assert clerk.post("/api/audit", json={}).status_code == 403
    assert clerk.get("/users").status_code == 403
    assert auditor.get("/search").status_code == 403
    assert auditor.get(f"/documents/{site.ids['lab']}").status_code == 403
    assert admin.get("/review").status_code == 403
    assert auditor.get("/audit").status_code == 200 and admin.get("/users").status_code == 200
    assert clerk.get("/").headers["location"] == "/search"
    assert auditor.get("/").headers["location"] == "/audit"


def test_security_headers_and_no_inline_script(site: Site) -> None:
    client = signed_in(site)
    pages = [
        client.get("/login"),
        client.get("/search"),
        client.post("/search", data={"q": "chest pain"}),
        client.get(f"/documents/{site.ids['discharge']}"),
        client.get("/review"),
        client.get("/upload"),
        client.get("/documents/999999"),
    ]
    for page in pages:
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
        assert not re.search(r"\sstyle=|\son[a-z]+=", page.text), "inline style or event handler"


# -- search, viewer, images -------------------------------------------------------------------------


def test_search_page_json_twin_and_audit(site: Site) -> None:
    client = signed_in(site)
    page = client.post("/search", data={"q": "chest pain"}, headers={"HX-Request": "true"})
    assert page.status_code == 200 and "<html" not in page.text  # the htmx partial
    assert page.text.count('class="result"') == 3
    assert "<mark>chest</mark>" in page.text.lower() or "<mark>Chest</mark>" in page.text
    assert "LINDQVIST, Maria" in page.text
    hits = client.post("/api/search", json={"query": "chest pain"}).json()
    assert {h["document_id"] for h in hits} == {site.ids["discharge"], site.ids["progress"]}
    assert set(hits[0]) >= {"document_id", "page", "snippet", "score", "type", "patient_mrn", "source"}
    twin = client.post("/api/search/page", json={"query": "chest pain"}).json()
    assert [(r["document_id"], r["page"]) for r in twin["results"]] == [
        (h["document_id"], h["page"]) for h in hits
    ]
    scoped = client.post("/api/search", json={"query": "chest", "patient": "4567"}).json()
    assert {h["document_id"] for h in scoped} == {site.ids["progress"]}
    searches = [t for a, t in audit_actions(site, "clara") if a == "search"]
    assert searches[0]["query"] == "chest pain" and sorted(searches[0]["documents"]) == sorted(
        {site.ids["discharge"], site.ids["progress"]}
    )
    filtered = client.post("/api/search/page", json={"query": "chest", "status": "review"}).json()
    assert filtered["results"] == []
    named = client.post("/api/search/page", json={"query": "Okafor"}).json()
    assert {p["mrn"] for p in named["patients"]} == {"4567", "889900"}
    by_mrn = client.post("/api/search/page", json={"query": "12345"}).json()
    assert [p["mrn"] for p in by_mrn["patients"]] == ["00012345"]


def test_paging(site: Site) -> None:
    client = signed_in(site)
    first = client.post("/api/search/page", json={"query": "chest"}).json()
    assert len(first["results"]) == 3 and not first["has_next"]
    site.app.state.web.settings.web.__dict__["results_per_page"] = 2  # frozen model: test-only poke
    try:
        one = client.post("/api/search/page", json={"query": "chest"}).json()
        two = client.post("/api/search/page", json={"query": "chest", "page": 2}).json()
    finally:
        site.app.state.web.settings.web.__dict__["results_per_page"] = 10
    assert one["has_next"] and not two["has_next"]
    assert [r["document_id"] for r in one["results"] + two["results"]] == [
        r["document_id"] for r in first["results"]
    ]


def test_viewer_draws_the_hits_on_the_search_words(site: Site) -> None:
    client = signed_in(site)
    client.post("/search", data={"q": "chest pain"})
    doc = site.ids["discharge"]
    assert all(not p["hits"] for p in client.get(f"/api/documents/{doc}/view").json()["document"]["pages"])
    data = client.get(f"/api/documents/{doc}/view?hits=1").json()
    words = {p: site.archive.page_words(doc, p) for p in (1, 2)}
    for page in data["document"]["pages"]:
        expected = [w for w in words[page["number"]] if w.text.lower().strip(".") in ("chest", "pain")]
        got = [(h["left"], h["top"], h["width"], h["height"]) for h in page["hits"]]
        assert got == [(w.left, w.top, w.width, w.height) for w in expected]
        assert len(got) == 2
    html = client.get(f"/documents/{doc}?hits=1")
    assert html.text.count('class="hit"') == 4 and "4 hits" in html.text
    assert 'class="hit"' not in client.get(f"/documents/{doc}").text  # opened from elsewhere: no boxes
    assert "chest pain" not in html.url.path and "/documents/" in str(html.url)
    assert ("show", {"documents": [doc], "text": True}) in audit_actions(site, "clara")


def test_page_images_cached_with_validators_and_audited(site: Site) -> None:
    client = signed_in(site)
    doc = site.ids["discharge"]
    first = client.get(f"/documents/{doc}/pages/1/screen")
    assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(first.content)) as img:
        assert img.width == 1000
    etag = first.headers["etag"]
    assert first.headers["last-modified"] and first.headers["cache-control"] == "private, no-cache"
    again = client.get(f"/documents/{doc}/pages/1/screen", headers={"If-None-Match": etag})
    assert again.status_code == 304
    thumb = client.get(f"/documents/{doc}/pages/2/thumb")
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert img.width == 160
    cache = site.archive.root / "cache"
    modes = {oct(p.stat().st_mode & 0o777) for p in [cache, *cache.rglob("*")]}
    assert modes <= {"0o700", "0o600"}, modes  # page images are PHI: private like the archive
    images = [t for a, t in audit_actions(site, "clara") if a == "page image"]
    assert [(t["page"], t["size"]) for t in images] == [(1, "screen"), (1, "screen"), (2, "thumb")]
    pdf = client.get(f"/documents/{doc}/download/pdf")
    assert pdf.content.startswith(b"%PDF") and "document-" in pdf.headers["content-disposition"]
    original = client.get(f"/documents/{doc}/download/original")
    assert original.status_code == 200
    downloads = [t["file"] for a, t in audit_actions(site, "clara") if a == "download"]
    assert downloads == ["pdf", "original"]


def test_unknown_documents_and_path_tricks_get_one_404(site: Site) -> None:
    client = signed_in(site)
    doc = site.ids["lab"]
    paths = [
        "/documents/999999",
        f"/documents/{doc}/pages/2/screen",
        f"/documents/{doc}/pages/0/screen",
        f"/documents/{doc}/pages/1/..%2F..%2Fchartclerk.db",
        "/documents/..%2F..%2Fetc%2Fpasswd",
        "/documents/%2e%2e/pages/1/screen",
        "/documents/1e3",
        "/documents/-1/download/pdf",
        f"/documents/{doc}/download/..%2Fchartclerk.db",
        "/documents/0x10",
        "/api/documents/999999",
        "/api/documents/%2e%2e%2f1",
        "/static/..%2Fapp.py",
        "/no/such/page",
    ]
    bodies = set()
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        bodies.add(response.text.replace("/api", ""))
    assert client.get("/documents/999999").text == client.get("/documents/999998").text
    assert len(bodies) <= 2  # one HTML page and one JSON body, whatever was asked


def test_script_tags_are_escaped_everywhere(site: Site) -> None:
    client = signed_in(site)
    evil = '<script>alert("q")</script> pleurisy'
    page = client.post("/search", data={"q": evil})
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "pleurisy" in page.text
    viewer = client.get(f"/documents/{site.ids['hostile']}")
    assert "<script>alert(1)" not in viewer.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in viewer.text
    assert "<img src=x" not in viewer.text


# -- chart, review ------------------------------------------------------------------------------------


def test_patient_chart_and_its_twin(site: Site) -> None:
    client = signed_in(site)
    page = client.post("/chart", data={"mrn": "12345"})
    assert page.status_code == 200 and "LINDQVIST, Maria" in page.text and "1961-03-14" in page.text
    assert "Discharge summary (1)" in page.text and "Lab report (1)" in page.text
    data = client.post("/api/chart", json={"mrn": "00012345"}).json()
    assert [g["type"] for g in data["groups"]] == ["discharge_summary", "lab_report"]
    listed = {"documents": [site.ids["discharge"], site.ids["lab"]], "filters": {"patient": "00012345"}}
    assert ("list", listed) in audit_actions(site, "clara")
    assert client.post("/chart", data={"mrn": "999"}).status_code == 404


def test_review_queue_file_to_a_candidate(site: Site) -> None:
    client = signed_in(site)
    doc = site.ids["review"]
    page = client.get("/review")
    assert "OKAFOR, James" in page.text and "1975-09-02" in page.text and "no roster match" in page.text
    assert client.get("/api/review").json()[0]["candidates"][0]["mrn"] == "4567"
    found = client.post("/review/find", data={"q": "okafor grace", "doc_id": doc})
    assert "889900" in found.text and "4567" not in found.text
    done = client.post(
        f"/review/{doc}/file", data={"mrn": "4567", "type": "referral"}, headers={"HX-Request": "true"}
    )
    assert done.status_code == 200 and f"Document {doc} filed as referral" in done.text
    shown = site.archive.get_document(doc)
    assert shown["status"] == "filed" and shown["patient_mrn"] == "4567" and shown["type"] == "referral"
    history = site.archive.document_history(doc)
    assert {(h["field"], h["new"], h["user"]) for h in history} >= {
        ("patient_mrn", "4567", "clara"),
        ("doc_type", "referral", "clara"),
    }
    filed = {"documents": [doc], "patient": "4567", "type": "referral"}
    assert ("file", filed) in audit_actions(site, "clara")
    assert client.get("/api/review").json() == []


# -- uploads ------------------------------------------------------------------------------------------


def test_uploads_refused_for_type_and_size(site: Site) -> None:
    client = signed_in(site)
    exe = client.post("/upload", files={"files": ("tool.exe", b"MZ\x90\x00" * 100, "application/x-dos")})
    assert exe.status_code == 415 and "not a scan" in exe.text
    fake = client.post("/upload", files={"files": ("scan.pdf", b"<html>not a pdf</html>", "application/pdf")})
    assert fake.status_code == 415 and "not PDF" in fake.text
    huge = b"%PDF-1.4\n" + b"0" * (2 << 20)
    big = client.post("/upload", files={"files": ("big.pdf", huge, "application/pdf")})
    assert big.status_code == 413
    assert client.get("/api/uploads").json() == []
    twin = client.post("/api/uploads", files=[("files", ("a.gif", b"GIF89a", "image/gif"))]).json()
    assert twin == {"queued": [], "refused": ["a.gif: not a scan: upload PDF, TIFF, PNG or JPEG files"]}


def test_upload_that_fails_says_why(site: Site, settings: Settings) -> None:
    client = signed_in(site)
    name = "../../etc/broken scan.pdf"
    broken = b"%PDF-1.4\nthis is not really a PDF"
    response = client.post("/upload", files={"files": (name, broken, "application/pdf")})
    assert response.status_code == 200
    job = _wait_job(client)
    assert job["status"] == "failed" and job["error"] and job["name"] == "broken scan.pdf"
    assert 'hx-trigger="load delay:1s"' not in client.get("/upload/jobs").text  # done: no more polling
    failed = list(settings.failed_dir.glob("*.error.txt"))
    assert len(failed) == 1  # quarantined like an inbox file, with its reason
    assert ("upload", {"documents": [], "outcome": "failed"}) in audit_actions(site, "clara")


def _wait_job(client: TestClient) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = client.get("/api/uploads").json()
        if jobs and jobs[0]["status"] not in ("queued", "reading"):
            return dict(jobs[0])
        time.sleep(0.05)
    raise AssertionError("upload not done within 60 s")


# -- audit, users -------------------------------------------------------------------------------------


def test_audit_page_filters_and_verifies(site: Site) -> None:
    clerk = signed_in(site)
    clerk.post("/api/search", json={"query": "potassium"})
    auditor = signed_in(site, "audrey")
    page = auditor.get("/audit")
    assert "Hash chain verified" in page.text
    data = auditor.post("/api/audit", json={"user": "clara"}).json()
    assert data["chain"]["ok"] and {e["user"] for e in data["entries"]} == {"clara"}
    assert any(e["action"] == "search" and e["target"]["query"] == "potassium" for e in data["entries"])
    by_patient = auditor.post("/audit", data={"patient": "00012345"})
    assert by_patient.status_code == 200 and "potassium" in by_patient.text
    assert any(a == "audit" for a, _ in audit_actions(site, "audrey"))


def test_admin_adds_a_user_who_must_change_the_one_time_password(site: Site) -> None:
    admin = signed_in(site, "adam")
    page = admin.post("/users", data={"name": "newclerk", "role": "clerk"})
    secret = re.search(r'<code id="secret">([^<]+)</code>', page.text)
    assert secret is not None
    newbie = site.client()
    assert sign_in(newbie, "newclerk", secret.group(1)).status_code == 303
    assert newbie.get("/search").headers["location"] == "/password"
    token = csrf(newbie)
    changed = newbie.post(
        "/password",
        data={
            "old": secret.group(1),
            "new": "a better secret",
            "again": "a better secret",
            "csrf_token": token,
        },
    )
    assert changed.headers["location"] == "/"
    assert newbie.get("/search").status_code == 200
    assert {u["name"]: u["must_change_password"] for u in admin.get("/api/users").json()}["newclerk"] is False
    for trick in ("..%2F..%2Fadam", "%2e%2e", "nobody", "ADAM%00"):
        assert admin.post(f"/users/{trick}/disable").status_code == 404, trick
    assert admin.post("/users", data={"name": "<script>x", "role": "clerk"}).status_code == 400
    admin.post("/users/newclerk/disable")
    assert newbie.get("/search").status_code == 303  # disabled: the session ended


def test_roster_import_by_admin(site: Site) -> None:
    admin = signed_in(site, "adam")
    csv = "mrn,last,first,dob,sex\n777001,Quinn,Ada,1990-04-05,F\nbad,row\n"
    before = admin.get("/api/roster").json()["patients"]
    page = admin.post("/roster", files={"roster": ("roster.csv", csv.encode(), "text/csv")})
    assert "Imported 1 patients, skipped 1 rows" in page.text
    assert admin.get("/api/roster").json()["patients"] == before + 1
    assert site.archive.roster.by_mrn("777001") is not None


def test_access_log_has_no_phi(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    client = signed_in(site)
    with caplog.at_level(logging.DEBUG):
        client.post("/search", data={"q": "Lindqvist chest", "patient": "00012345"})
        client.post("/chart", data={"mrn": "00012345"})
        client.get(f"/documents/{site.ids['discharge']}")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /search 200" in text and "POST /chart 200" in text
    for phi in ("Lindqvist", "00012345", "12345", "chest", "Maria"):
        assert phi not in text


def test_openapi_describes_the_api(site: Site) -> None:
    assert site.client().get("/api/openapi.json").status_code == 401
    spec = signed_in(site).get("/api/openapi.json").json()
    assert {"/api/search", "/api/list", "/api/documents/{doc_id}", "/api/review"} <= set(spec["paths"])
    assert json.dumps(spec).count("/login") == 0  # only the API is described
    assert f'"enum": {json.dumps(list(DOC_TYPES))}' in json.dumps(spec)  # the one list of types
    client = signed_in(site)
    assert client.post("/api/search", json={"query": "chest", "type": "lab_report"}).status_code == 200
    assert client.post("/api/search", json={"query": "chest", "type": "bogus"}).status_code == 422


def test_users_cli(settings: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chartclerk.cli import app

    config = ["--config", str(tmp_path / "config.yaml")]
    runner = CliRunner()
    added = runner.invoke(app, [*config, "users", "add", "Maria", "--role", "clerk"])
    assert added.exit_code == 0, added.output
    secret = re.search(r"one-time password \(to be changed at first sign-in\): (\S+)", added.output)
    assert secret is not None and len(secret.group(1)) == 20
    assert runner.invoke(app, [*config, "users", "add", "maria", "--role", "clerk"]).exit_code != 0
    listed = runner.invoke(app, [*config, "users", "list", "--json"])
    assert json.loads(listed.output) == [
        {"name": "maria", "role": "clerk", "disabled": False, "must_change_password": True,
         "created_at": json.loads(listed.output)[0]["created_at"]}
    ]  # fmt: skip
    assert "disabled maria" in runner.invoke(app, [*config, "users", "disable", "maria"]).output
    reset = runner.invoke(app, [*config, "users", "reset", "maria"])
    assert reset.exit_code == 0 and "one-time password for maria" in reset.output
    with Archive.open(settings) as archive:
        actions = [e.action for e in archive.audit_log()]
    assert actions[:3] == ["user add", "user disable", "user reset"]


def test_hit_boxes_follow_the_search_terms() -> None:
    from chartclerk.store.hits import hit_boxes
    from chartclerk.store.models import WordBox

    words = tuple(
        WordBox(t, i / 10, 0.1, 0.05, 0.02)
        for i, t in enumerate(["Chest", "pain,", "no", "fractures;", "patient", "admitted.", "pain", "chest"])
    )
    assert [b.word for b in hit_boxes(words, '"chest pain"')] == [0, 1]  # a phrase: consecutive only
    assert [b.word for b in hit_boxes(words, "chest pain")] == [0, 1, 6, 7]
    assert [b.word for b in hit_boxes(words, "fracture admit")] == [3, 5]  # stems
    assert [b.term for b in hit_boxes(words, "pain chest")] == [1, 0, 0, 1]
    assert hit_boxes(words, "<script>") == [] and hit_boxes(words, '"" ()') == []


def test_behind_tls_cookies_are_secure_and_host_only(settings: Settings) -> None:
    app = create_app(settings, secure=True, hasher=FAST_ARGON2)
    app.state.web.users.add("tls", "clerk", PASSWORD)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        page = client.get("/login")
        assert "__Host-chartclerk-login" in page.cookies
        response = sign_in(client, "tls")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-chartclerk=") and "Secure" in cookie and "HttpOnly" in cookie
        assert "strict-transport-security" in response.headers


def test_errors_reach_htmx_as_partials_and_chunked_uploads_are_bounded(site: Site) -> None:
    client = signed_in(site)
    bad = client.post("/search", data={"q": "chest", "from": "yesterday"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400 and "<html" not in bad.text and "dates are YYYY-MM-DD" in bad.text
    no_patient = client.post(f"/review/{site.ids['review']}/file", data={"type": "referral"})
    assert no_patient.status_code == 400 and "give an MRN" in no_patient.text

    def chunks() -> Iterator[bytes]:
        boundary = b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n\r\n%PDF-'
        yield boundary
        for _ in range(3):
            yield b"0" * (1 << 20)  # no Content-Length: counted as it comes, refused past the limit
        yield b"\r\n--x--\r\n"

    big = client.post(
        "/upload", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert big.status_code == 413
    stranger = site.client()  # no session cookie: no large body is even read
    assert (
        stranger.post("/upload", content=b"x" * 70_000, headers={"Content-Type": "text/plain"}).status_code
        == 413
    )
    assert (
        stranger.post("/upload", content=b"x" * 1000, headers={"Content-Type": "text/plain"}).status_code
        == 303
    )
    static = client.get("/static/app.css")
    assert static.headers["cache-control"] == "no-cache" and static.headers.get("etag")
