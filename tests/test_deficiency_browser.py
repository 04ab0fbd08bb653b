"""The Deficiencies page in a real browser (Debian's chromium through Playwright, the real server
on a free loopback port): the finding's box is drawn over its page image where the finding's
region says, on the form's signature line, and a clerk resolves it with a reason. The page's
other behaviour is tested with the test client (test_deficiency_web.py)."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher
from PIL import Image
from playwright.sync_api import sync_playwright

from chartclerk.settings import Settings
from chartclerk.store.deficiencies import list_findings
from chartclerk.tests.deficiencyforms import H, W, archive_pages, signature_form
from chartclerk.tests.test_web_browser import (
    ARGS,
    CHROMIUM,
    PASSWORD,
    FakeClock,
    serve_in_thread,
    sign_in,
    wait_until,
)
from chartclerk.workers import SerialExecutor

SIGNATURE_LINE_Y = 620  # where signature_form rules the signature line (pixels of the 150 dpi form)
SIGNATURE_LINE_RIGHT = 740
STROKE = np.array([0xC0, 0x39, 0x2B])  # rect.finding's stroke colour (style.css)


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: make test installs it (APT_TEST)")
    from chartclerk.web import create_app

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = create_app(settings, clock=FakeClock(), make_executor=SerialExecutor, hasher=hasher)
    state = app.state.web
    scans = settings.archive.parent / "scans"
    archive_pages(state.archive, scans, [signature_form(random.Random(3), "unsigned")], mrn=None)
    archive_pages(state.archive, scans, [signature_form(random.Random(4), "signed")], mrn=None)
    state.users.add("clara", "clerk", PASSWORD)
    with serve_in_thread(app) as url:
        yield url, state.archive
    state.archive.close()


def test_finding_box_on_the_page_image_and_resolving_it(served: tuple[str, Any], tmp_path: Path) -> None:
    url, archive = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        sign_in(page, "clara")
        page.wait_for_url("**/search")
        page.goto("/deficiencies")
        wait_until(page, "(() => { const i = document.querySelector('.finding-page img');"
                         " return i && i.complete && i.naturalWidth > 0; })()")  # fmt: skip
        [item] = list_findings(archive)
        left, top, width, height = item["region"]
        img = page.locator(".finding-page img").bounding_box()
        rect = page.locator(f'rect.finding[data-finding="{item["id"]}"]').bounding_box()
        assert img is not None and rect is not None
        # drawn where the finding's region says, to within 2 screen pixels
        assert abs(rect["x"] - (img["x"] + left * img["width"])) <= 2
        assert abs(rect["y"] - (img["y"] + top * img["height"])) <= 2
        assert abs(rect["width"] - width * img["width"]) <= 2
        assert abs(rect["height"] - height * img["height"]) <= 2
        # ...and that region lies on the form's signature line, right of its label
        line_y = img["y"] + SIGNATURE_LINE_Y / H * img["height"]
        assert rect["y"] < line_y < rect["y"] + rect["height"]
        assert rect["x"] < img["x"] + SIGNATURE_LINE_RIGHT / W * img["width"] <= rect["x"] + rect["width"] + 4
        shot = tmp_path / "deficiencies.png"
        page.locator("section.deficiency").first.screenshot(path=str(shot))
        # the box is visible in the pixels: its red outline along its top edge
        section = page.locator("section.deficiency").first.bounding_box()
        assert section is not None
        pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
        scale = pixels.shape[1] / section["width"]
        y = round((rect["y"] - section["y"]) * scale)
        xs = slice(
            round((rect["x"] - section["x"] + 10) * scale), round((rect["x"] - section["x"] + 60) * scale)
        )
        edge = pixels[max(0, y - 2) : y + 3, xs]
        assert (np.abs(edge - STROKE).sum(axis=2) < 90).any(axis=0).mean() > 0.9
        wanted = os.environ.get("CHARTCLERK_SCREENSHOTS")
        if wanted:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(wanted) / "deficiencies.png")

        finding = page.locator(f"#finding-{item['id']}")
        finding.get_by_role("button", name="Resolve").click()  # no reason: the browser will not send it
        assert list_findings(archive)[0]["status"] == "open"
        finding.locator("input[name=reason]").fill("signed by Dr. Patel on 11/30")
        finding.get_by_role("button", name="Resolve").click()
        page.wait_for_selector("#message")
        assert page.inner_text("#message") == f"Finding {item['id']} resolved."
        assert "No deficiencies open" in page.inner_text("main")
        [closed] = list_findings(archive, status="all")
        assert closed["status"] == "resolved" and closed["closed_by"] == "clara"
        assert closed["reason"] == "signed by Dr. Patel on 11/30"
        context.close()
        browser.close()
    assert not problems, problems
