"""The tesseract wrapper, page straightening and the orientation check, on real tesseract."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytesseract
import pytest

from chartclerk.errors import MissingDependencyError, OcrError
from chartclerk.ingest import PageImage
from chartclerk.ocr import normalize_resolution, ocr_page, straighten_page
from chartclerk.ocr.tesseract import detect_orientation, ocr_image, parse_tsv, tesseract_version
from chartclerk.settings import OcrSettings
from chartclerk.tests.scans import distort, render_page

SETTINGS = OcrSettings()


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    return render_page("discharge_summary", None, seed=11, dpi=300, body_lines=14)


def test_one_pass_gives_text_words_and_text_layer(upright: np.ndarray) -> None:
    result = ocr_image(upright, 300, SETTINGS)
    assert "DISCHARGE" in result.text.upper()
    assert result.mean_confidence is not None and result.mean_confidence > 80
    assert len(result.words) > 20
    assert all(w.width > 0 and w.height > 0 for w in result.words)
    assert result.text_layer_pdf.startswith(b"%PDF")


def test_blank_page_is_a_neutral_result() -> None:
    result = ocr_image(np.full((1100, 850), 255, dtype=np.uint8), 100, SETTINGS)
    assert result.text == "" and result.mean_confidence is None and result.words == ()
    assert detect_orientation(np.full((1100, 850), 255, dtype=np.uint8), 100, SETTINGS) is None


@pytest.mark.parametrize("quarter", [0, 1, 2, 3])
def test_every_quarter_turn_is_found_and_undone(upright: np.ndarray, quarter: int) -> None:
    scan = distort(upright, quarter_turns_ccw=quarter, skew_degrees=-3.0, noise=0.002, seed=quarter)
    page = normalize_resolution(PageImage(1, scan, 300.0), SETTINGS)
    read = ocr_page(straighten_page(page), SETTINGS)
    assert read.page.rotation_degrees == 90 * quarter
    assert abs(read.page.skew_degrees - (-3.0)) < 0.3
    assert "DISCHARGE" in read.ocr.text.upper()


def test_low_resolution_scans_are_scaled_up_and_read(upright: np.ndarray) -> None:
    fax = np.asarray(upright[::3, ::3])  # 100 dpi
    scaled = normalize_resolution(PageImage(1, fax, 100.0), SETTINGS)
    assert scaled.dpi == 300 and scaled.image.shape[1] == fax.shape[1] * 3
    unknown = normalize_resolution(PageImage(1, fax, None), SETTINGS)
    assert unknown.dpi == 300  # no dpi recorded: guessed from a letter page's size
    read = ocr_page(straighten_page(scaled), SETTINGS)
    assert "DISCHARGE" in read.ocr.text.upper()


def _fake_tesseract(tmp_path: Path, body: str) -> str:
    script = tmp_path / "tesseract"
    script.write_text(f"#!/bin/sh\ncase \"$1\" in --version) echo 'tesseract 5.3.0'; exit 0;; esac\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("body", "message"),
    [("echo 'Error in pixReadStream' >&2; exit 1", "tesseract failed"), ("sleep 30", "took over 5 s")],
)
def test_tesseract_failures_are_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", _fake_tesseract(tmp_path, body))
    with pytest.raises(OcrError, match=message):
        ocr_image(np.full((200, 200), 255, dtype=np.uint8), 300, OcrSettings(timeout_seconds=5))


def test_missing_tesseract_is_a_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    tesseract_version.cache_clear()
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    try:
        with pytest.raises(MissingDependencyError):
            ocr_image(np.full((200, 200), 255, dtype=np.uint8), 300, SETTINGS)
    finally:
        tesseract_version.cache_clear()


def test_tsv_parsing_skips_structure_rows_and_empty_words() -> None:
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n"
        "5\t1\t1\t1\t1\t1\t10\t20\t30\t40\t96.5\tMRN\n"
        "5\t1\t1\t1\t1\t2\t50\t20\t30\t40\t95\t \n"
    )
    words = parse_tsv(tsv)
    assert [(w.text, w.confidence, w.left) for w in words] == [("MRN", 96.5, 10)]
