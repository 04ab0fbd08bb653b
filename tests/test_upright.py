"""Upside-down detection from text-line shapes, and its place before OCR."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from chartclerk.classify.training.render import FONTS
from chartclerk.ingest import PageImage
from chartclerk.ocr import OcrResult, StraightPage, Word, ocr_page, reading, straighten_page
from chartclerk.ocr.upright import UprightEstimate, estimate_upright
from chartclerk.settings import OcrSettings
from chartclerk.tests.scans import DOC_TYPES, distort, make_roster, render_page

Gray = npt.NDArray[np.uint8]


@pytest.mark.parametrize("dpi", [150, 300])
@pytest.mark.parametrize("doc_type", DOC_TYPES[::3])
def test_tells_upright_from_upside_down(doc_type: str, dpi: int) -> None:
    page = render_page(doc_type, make_roster(1, seed=dpi)[0], seed=len(doc_type), dpi=dpi)
    scan = distort(page, noise=0.002, seed=1)
    upright = estimate_upright(scan, dpi)
    flipped = estimate_upright(np.ascontiguousarray(scan[::-1, ::-1]), dpi)
    assert upright.sure and not upright.upside_down
    assert flipped.sure and flipped.upside_down
    assert upright.asymmetry > 0.15 and flipped.asymmetry < -0.15


def test_blank_page_is_unsure() -> None:
    estimate = estimate_upright(np.full((1650, 1275), 255, dtype=np.uint8), 150)
    assert estimate == UprightEstimate(upside_down=False, sure=False, asymmetry=0.0, lines=0)


def _capitals_page(dpi: int) -> Gray:
    """Lines of capitals and digits only: no ascenders or descenders to go by."""
    page = Image.new("L", (int(8.5 * dpi), 11 * dpi), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(FONTS["DejaVuSans"][0]), round(11 * dpi / 72))
    for row in range(30):
        line = f"MRN {40210 + row * 7} HEMOGLOBIN 13.{row % 10} NORMAL"
        draw.text((dpi, dpi + row * round(18 * dpi / 72)), line, font=font, fill=0)
    return np.asarray(page, dtype=np.uint8).copy()


@pytest.mark.parametrize("dpi", [150, 300])
def test_capitals_and_digits_are_never_turned_the_wrong_way(dpi: int) -> None:
    page = _capitals_page(dpi)
    upright, flipped = (
        estimate_upright(page, dpi),
        estimate_upright(np.ascontiguousarray(page[::-1, ::-1]), dpi),
    )
    assert not (upright.sure and upright.upside_down)
    assert not (flipped.sure and not flipped.upside_down)


def test_ruled_form_without_text_is_unsure() -> None:
    page = np.full((1650, 1275), 255, dtype=np.uint8)
    for y in range(150, 1500, 60):
        page[y : y + 3, 100:1175] = 0  # rules of an empty form, and its boxes
        page[y : y + 60, 100:103] = 0
        page[y : y + 60, 1172:1175] = 0
    assert not estimate_upright(page, 150).sure


def test_upside_down_page_is_read_once_without_osd(monkeypatch: pytest.MonkeyPatch) -> None:
    page = render_page("discharge_summary", None, seed=11, dpi=300, body_lines=14)
    scan = distort(page, quarter_turns_ccw=2, skew_degrees=2.0, noise=0.002, seed=3)

    def no_osd(*args: object) -> None:
        raise AssertionError("orientation detection should not be needed")

    monkeypatch.setattr(reading, "detect_orientation", no_osd)
    straight = straighten_page(PageImage(1, scan, 300.0))
    assert straight.rotation_degrees == 180
    read = ocr_page(straight, OcrSettings())
    assert read.page.rotation_degrees == 180 and "DISCHARGE" in read.ocr.text.upper()


def test_unsure_pages_still_get_the_osd_check(monkeypatch: pytest.MonkeyPatch) -> None:
    page = render_page("discharge_summary", None, seed=11, dpi=300, body_lines=14)
    scan = distort(page, quarter_turns_ccw=2, noise=0.002, seed=4)
    unsure = UprightEstimate(upside_down=False, sure=False, asymmetry=0.0, lines=0)
    monkeypatch.setattr("chartclerk.ocr.prepare.estimate_upright", lambda *a: unsure)
    straight = straighten_page(PageImage(1, scan, 300.0))
    assert straight.rotation_degrees == 0  # left as it is ...
    read = ocr_page(straight, OcrSettings())
    assert read.page.rotation_degrees == 180  # ... and turned after the poor first reading
    assert "DISCHARGE" in read.ocr.text.upper()


@pytest.mark.parametrize(
    ("sure", "confidence", "checked"), [(True, 60.0, False), (False, 60.0, True), (True, 40.0, True)]
)
def test_poor_readings_of_pages_known_upright_skip_osd_unless_garbage(
    monkeypatch: pytest.MonkeyPatch, sure: bool, confidence: float, checked: bool
) -> None:
    calls: list[int] = []

    def osd(*args: object) -> None:
        calls.append(1)

    monkeypatch.setattr(reading, "detect_orientation", osd)
    page = StraightPage(1, np.full((100, 100), 255, dtype=np.uint8), 300, 0.0, 0, orientation_sure=sure)
    words = tuple(Word("word", confidence, 0, 0, 10, 10) for _ in range(20))
    first = reading.ReadPage(page, OcrResult("text", confidence, words, b""))
    assert reading.check_orientation(first, OcrSettings()) is first
    assert bool(calls) == checked
