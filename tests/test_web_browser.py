"""The web app in a real browser: Debian's chromium driven by Playwright, against the real server
(uvicorn on a free loopback port, in a thread of this process, with a clock the tests move).

Few and end-to-end; everything else about the pages is tested with the test client
(test_web.py). Playwright never downloads a browser here: it is pointed at /usr/bin/chromium.
Screenshots are kept under the test's tmp folder (and copied to docs/ when
CHARTCLERK_SCREENSHOTS names a folder, which is how README's were made)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import sync_playwright

from chartclerk.settings import Settings, load_settings
from chartclerk.store import Archive
from chartclerk.store.audit import read_entries
from chartclerk.tests.scans import FakePatient, render_document, write_png
from chartclerk.tests.webdata import PATIENTS, build_archive
from chartclerk.workers import SerialExecutor

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class FakeClock:
    def __init__(self) -> None:
        import datetime as dt

        self._dt = dt
        self.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> Any:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += self._dt.timedelta(minutes=minutes)


@dataclass
class Server:
    url: str
    app: Any
    archive: Archive
    clock: FakeClock
    ids: dict[str, int]
    settings: Settings
    tmp: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of this process (so the
    tests share its archive and clock); yields the base URL, stops the server on exit."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: make test installs it (APT_TEST)")
    from chartclerk.web import create_app

    home = tmp_path_factory.mktemp("web")
    (home / "config.yaml").write_text(
        "inbox: inbox\narchive: archive\ndatabase: null\nworkers: 1\nweb:\n  max_failed_logins: 3\n"
    )
    settings = load_settings(home / "config.yaml")
    clock = FakeClock()
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = create_app(settings, clock=clock, make_executor=SerialExecutor, hasher=hasher)
    state = app.state.web
    ids = build_archive(state.archive, home / "scans")
    for name, role in (("clara", "clerk"), ("carl", "clerk"), ("lockme", "clerk"), ("audrey", "auditor")):
        state.users.add(name, role, PASSWORD)
    with serve_in_thread(app) as url:
        yield Server(url, app, state.archive, clock, ids, settings, home)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=server.url)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.problems = problems
    yield tab
    context.close()
    csp = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
    assert not csp, csp  # htmx and app.js work under the CSP: nothing was refused


def sign_in(page: Any, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#signin")


def wait_until(page: Any, expression: str, timeout: float = 15) -> None:
    """Poll a JS expression with page.evaluate (wait_for_function evaluates strings, which this
    site's CSP refuses, as it should)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def screenshot(page: Any, server: Server, name: str) -> Path:
    path = server.tmp / "screenshots" / name
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path), full_page=False)
    wanted = os.environ.get("CHARTCLERK_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / name)
    return path


def actions(server: Server, user: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, dict(e.target)) for e in read_entries(server.archive.engine) if e.user == user]


# -- sign-in --------------------------------------------------------------------------------------------


def test_sign_in_bad_password_and_sign_out(page: Any, server: Server) -> None:
    page.goto("/search")
    assert page.url.endswith("/login")
    sign_in(page, "carl", "not the password at all")
    assert "Wrong user name or password" in page.inner_text("#login-error")
    sign_in(page, "carl")
    page.wait_for_url("**/search")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["chartclerk_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto("/search")
    assert page.url.endswith("/login")
    outcomes = [t["outcome"] for a, t in actions(server, "carl") if a == "login"]
    assert outcomes[-2:] == ["refused", "signed in"]


def test_lockout(page: Any, server: Server) -> None:
    for _ in range(3):
        sign_in(page, "lockme", "not the password at all")
    sign_in(page, "lockme")
    assert "Too many failed sign-ins" in page.inner_text("#login-error")
    assert page.url.endswith("/login")


def test_idle_expiry_with_the_test_clock(page: Any, server: Server) -> None:
    sign_in(page, "carl")
    page.wait_for_url("**/search")
    server.clock.advance(minutes=16)
    page.fill("#q", "chest")  # the live search's htmx request finds the session ended
    page.wait_for_url("**/login")
    page.goto("/upload")
    assert page.url.endswith("/login")


# -- the clerk's day -------------------------------------------------------------------------------------


def test_search_viewer_hit_boxes_chart_review_and_audit(page: Any, server: Server) -> None:
    sign_in(page, "clara")
    page.wait_for_url("**/search")
    page.fill("#q", "chest pain")  # live: no button pressed
    page.wait_for_selector("li.result")
    assert page.locator("li.result").count() == 3
    assert "chest" in page.inner_text("li.result mark").lower()
    wait_until(
        page, "[...document.querySelectorAll('li.result img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    screenshot(page, server, "search.png")
    page.select_option("select[name=type]", "progress_note")  # a filter changed: results follow
    wait_until(page, "document.querySelectorAll('li.result').length === 1")
    page.select_option("select[name=type]", "")
    wait_until(page, "document.querySelectorAll('li.result').length === 3")

    doc = server.ids["discharge"]
    page.click(f'li.result[data-document="{doc}"][data-page="1"] a.title')
    page.wait_for_url(f"**/documents/{doc}*")
    wait_until(
        page, "[...document.querySelectorAll('figure.page img')].every(i => i.complete && i.naturalWidth)"
    )
    assert "4 hits" in page.inner_text("#hit-count")
    for number in (1, 2):
        expected = [
            w
            for w in server.archive.page_words(doc, number)
            if re.sub(r"\W", "", w.text.lower()) in ("chest", "pain")
        ]
        image = page.locator(f"#page-{number} img").bounding_box()
        boxes = [page.locator(f"#page-{number} rect.hit").nth(i).bounding_box() for i in range(len(expected))]
        assert page.locator(f"#page-{number} rect.hit").count() == len(expected) == 2
        for word, box in zip(expected, boxes, strict=True):
            # the drawn box (stroke included: 1 px each side) sits on the word where it is on the image
            assert abs(box["x"] - (image["x"] + word.left * image["width"])) <= 2
            assert abs(box["y"] - (image["y"] + word.top * image["height"])) <= 2
            assert abs(box["width"] - word.width * image["width"]) <= 3
            assert abs(box["height"] - word.height * image["height"]) <= 3
    page.click("#next-hit")
    assert page.locator("rect.hit.current").count() == 1
    assert "hit 1 of 4" in page.inner_text("#hit-count")
    page.click("#zoom-in")
    wider = page.locator("#page-1 img").bounding_box()["width"]
    assert wider > image["width"]
    page.click("#zoom-out")
    shot = screenshot(page, server, "viewer.png")
    assert shot.stat().st_size > 10_000

    page.click("aside form.inline button")  # the patient's chart
    page.wait_for_selector("#chart-mrn")
    assert page.inner_text("#chart-mrn") == "00012345"
    assert page.locator("li.doc").count() == 2
    assert "Discharge summary (1)" in page.inner_text("main")
    wait_until(page, "[...document.querySelectorAll('li.doc img')].every(i => i.complete && i.naturalWidth)")
    screenshot(page, server, "chart.png")

    page.click("text=Review queue")
    page.wait_for_selector("section.review-item")
    review = server.ids["review"]
    thumbs = "[...document.querySelectorAll('section.review-item img')]"
    wait_until(page, f"{thumbs}.every(i => i.complete && i.naturalWidth)")
    screenshot(page, server, "review.png")
    page.locator(f"#item-{review} button.file-to").first.click()
    page.wait_for_selector("#message")
    assert f"Document {review} filed" in page.inner_text("#message")
    assert server.archive.get_document(review)["patient_mrn"] == "4567"

    done = actions(server, "clara")
    kinds = {a for a, _ in done}
    assert {"login", "search", "show", "page image", "list", "review", "file"} <= kinds
    searches = [
        (t.get("type"), t["documents"]) for a, t in done if a == "search" and t.get("query") == "chest pain"
    ]
    both = [server.ids["discharge"], server.ids["progress"]]
    assert searches == [(None, both), ("progress_note", [server.ids["progress"]]), (None, both)]
    # typed once, searched once; each filter change once; leaving the box does not search again
    assert ("show", {"documents": [doc], "text": True}) in done
    assert {t["page"] for a, t in done if a == "page image" and t["documents"] == [doc]} >= {1, 2}
    assert any(a == "list" and t.get("filters") == {"patient": "00012345"} for a, t in done)
    assert ("file", {"documents": [review], "patient": "4567", "type": "consult_note"}) in done
    origins = {e.origin for e in read_entries(server.archive.engine) if e.user == "clara"}
    assert origins == {"chartclerk web from 127.0.0.1"}


def test_clerk_refused_the_audit_page_and_a_forged_form(page: Any, server: Server) -> None:
    sign_in(page, "carl")
    page.wait_for_url("**/search")
    response = page.goto("/audit")
    assert response.status == 403 and "Not allowed" in page.inner_text("main")
    page.goto("/search")
    page.evaluate("document.querySelector('form.signout input[name=csrf_token]').value = 'forged'")
    page.click("#logout")
    assert "Form expired" in page.inner_text("main")
    page.goto("/search")
    assert page.url.endswith("/search")  # the forged sign-out did nothing


def test_auditor_sees_the_chain_verified(page: Any, server: Server) -> None:
    sign_in(page, "audrey")
    page.wait_for_url("**/audit")
    assert "Hash chain verified" in page.inner_text("#chain")
    page.fill("input[name=user]", "clara")
    page.click("form.filters button")
    page.wait_for_selector("table.audit")
    users = page.locator("table.audit tr td:nth-child(3)").all_inner_texts()
    assert users and set(users) == {"clara"}
    screenshot(page, server, "audit.png")


# -- uploads ---------------------------------------------------------------------------------------------


def test_upload_that_fails_shows_its_reason(page: Any, server: Server) -> None:
    bad = server.tmp / "torn.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\n")
    sign_in(page, "carl")
    page.wait_for_url("**/search")
    page.goto("/upload")
    page.set_input_files("#files", str(bad))
    page.click("#upload")
    page.wait_for_selector("tr.job.failed")
    assert page.inner_text("tr.job.failed td.outcome").strip()  # the reason, as the inbox gives it
    page.set_input_files("#files", str(server.tmp / "config.yaml"))
    page.click("#upload")
    page.wait_for_selector(".upload-error")
    assert "not a scan" in page.inner_text(".upload-error")


@pytest.mark.slow
def test_upload_that_is_archived(page: Any, server: Server) -> None:
    p = PATIENTS[0]
    scan = render_document(
        "discharge_summary", FakePatient(p.mrn, p.last, p.first, p.dob, p.sex), seed=3, dpi=200
    )
    path = server.tmp / "discharge.png"
    write_png(path, scan.pages[0], dpi=200)
    sign_in(page, "carl")
    page.wait_for_url("**/search")
    page.goto("/upload")
    page.set_input_files("#files", str(path))
    page.click("#upload")
    page.wait_for_selector("tr.job.archived", timeout=120_000)
    link = page.locator("tr.job.archived td.outcome a").first
    doc = int(link.inner_text().split()[-1])
    assert server.archive.get_document(doc)["source"] == "discharge.png"
    assert ("upload", {"documents": [doc], "outcome": "archived"}) in actions(server, "carl")
