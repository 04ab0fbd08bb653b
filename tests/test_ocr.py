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
from chartclerk.ocr.prepare import StraightPage, erase_thin_lines
from chartclerk.ocr.reading import read_page
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


def test_only_the_inked_part_is_read_and_stays_in_place(tmp_path: Path) -> None:
    import re
    import subprocess

    from chartclerk.ocr import StraightPage, read_page
    from chartclerk.store import make_page_pdf

    page = render_page("lab_report", None, seed=4, dpi=300, body_lines=6)  # a short page: wide blank margins
    read = read_page(StraightPage(1, page, 300, 0.0, 0), SETTINGS)
    whole = ocr_image(page, 300, SETTINGS)
    assert read.ocr.region is not None
    left, top, right, bottom = read.ocr.region
    assert (right - left) * (bottom - top) < 0.6 * page.size
    assert read.ocr.text == whole.text
    assert [(w.text, w.left, w.top) for w in read.ocr.words] == [(w.text, w.left, w.top) for w in whole.words]

    def word_boxes(layer: bytes, region: tuple[int, int, int, int] | None) -> list[tuple[float, float, str]]:
        pdf = tmp_path / "page.pdf"
        pdf.write_bytes(make_page_pdf(page, 300, layer, 60, layer_region=region))
        out = subprocess.run(
            ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
        )
        found = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]+)</word>', out.stdout)
        return [(float(x), float(y), text) for x, y, text in found]

    cropped, full = (
        word_boxes(read.ocr.text_layer_pdf, read.ocr.region),
        word_boxes(whole.text_layer_pdf, None),
    )
    assert [t for *_, t in cropped] == [t for *_, t in full] and len(full) > 20
    assert all(abs(a[0] - b[0]) < 0.5 and abs(a[1] - b[1]) < 0.5 for a, b in zip(cropped, full, strict=True))


def test_content_box_leaves_blank_and_full_pages_whole() -> None:
    from chartclerk.ocr.prepare import content_box

    assert content_box(np.full((3300, 2550), 255, dtype=np.uint8), 300) is None
    bordered = np.full((3300, 2550), 255, dtype=np.uint8)
    bordered[:, :40] = 0  # a scanner's black edge: the box would be the whole page
    bordered[3000:3100, 2400:2500] = 0
    assert content_box(bordered, 300) is None
    specks = np.full((3300, 2550), 255, dtype=np.uint8)
    specks[::97, ::89] = 0  # lone specks are not ink
    specks[1000:1100, 1000:1500] = 0
    assert content_box(specks, 300) == (955, 955, 1545, 1145)


def test_thin_lines_are_erased_from_the_copy_tesseract_reads(upright: np.ndarray) -> None:
    """Fax streaks through lines of print and a rule are whitened, letters crossed by them kept
    whole, a heavy bar kept; tesseract then reads the streaked lines as it reads the clean page.
    A page without such lines is handed back as it is."""
    ruled = erase_thin_lines(upright, 300)  # the letterhead's rule goes; nothing else changes
    changed = np.flatnonzero((ruled != upright).any(axis=1))
    assert 1 <= changed.size <= 6 and changed[-1] - changed[0] < 6
    assert erase_thin_lines(ruled, 300) is ruled
    upright = ruled
    ink_rows = np.flatnonzero((upright < 128).sum(axis=1) > 40)
    bands = np.split(ink_rows, np.flatnonzero(np.diff(ink_rows) > 1) + 1)
    streaked = upright.copy()
    through = [int(b[len(b) // 2]) for b in bands[2:12:2]]  # the middle of five lines of print
    for y in through:
        streaked[y : y + 2, :] = 35
    streaked[1800:1803, 300:1100] = 20  # a rule under the text, 2.7 in long
    streaked[2000:2014, 300:1100] = 20  # a heavy bar (0.05 in thick): not a thin line
    erased = erase_thin_lines(streaked, 300)
    assert (erased[1800:1803, 300:1100] > 200).all()
    assert (erased[2000:2014, 300:1100] == 20).all()
    streak_rows = np.zeros(upright.shape[0], bool)
    for y in through:
        streak_rows[y - 1 : y + 3] = True
    elsewhere = ~streak_rows
    elsewhere[1799:1804] = False  # the rule and its grey edge
    kept = erased[elsewhere] == streaked[elsewhere]
    assert kept.mean() > 0.9999  # nothing else touched
    on_streaks = erased[streak_rows]
    assert (on_streaks < 128).mean() < 0.5 * (streaked[streak_rows] < 128).mean()
    crossing = (upright[streak_rows] < 128) & (on_streaks < 128)
    assert crossing.sum() > 0.8 * (upright[streak_rows] < 128).sum()  # the letters' own strokes stay

    def words(text: str) -> set[str]:
        return {w for w in text.upper().split() if len(w) > 3}

    clean = words(ocr_image(upright, 300, SETTINGS).text)
    read = read_page(StraightPage(1, streaked, 300, 0.0, 0), SETTINGS)
    raw = words(ocr_image(streaked, 300, SETTINGS).text)
    assert len(clean & words(read.ocr.text)) > 0.95 * len(clean)
    assert len(clean & raw) < len(clean & words(read.ocr.text))
