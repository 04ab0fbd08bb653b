"""Skew measurement, quarter turns and deskewing on synthetic scans (measured outcomes only)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from chartclerk.ocr.geometry import deskew, measure_skew, rotate_quarter
from chartclerk.tests.scans import distort, make_roster, render_page

DPI = 150
TOLERANCE = 0.3  # degrees

Gray = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def note() -> Gray:
    patient = make_roster(1, seed=7)[0]
    return render_page("discharge_summary", patient, seed=3, dpi=DPI)


@pytest.fixture(scope="module")
def labs() -> Gray:
    patient = make_roster(2, seed=7)[1]
    return render_page("lab_report", patient, seed=5, dpi=DPI)


def _ink_fraction(img: Gray) -> float:
    return float(np.count_nonzero(img < 128)) / img.size


@pytest.mark.parametrize("skew", [-15.0, -9.5, -4.0, -1.0, 0.0, 0.7, 3.0, 8.2, 15.0])
def test_measures_skew_within_tolerance(note: Gray, labs: Gray, skew: float) -> None:
    index = int(skew * 10) % 3
    page = labs if index == 0 else note
    scan = distort(page, skew_degrees=skew, noise=0.004 * index, blur=3 if index == 1 else 0, seed=index)

    estimate = measure_skew(scan)

    assert abs(estimate.angle_degrees - skew) < TOLERANCE
    assert not estimate.sideways
    assert estimate.confidence > 0.5


@pytest.mark.parametrize(("turns", "skew"), [(0, 2.5), (1, -1.5), (2, 4.0), (3, 11.0)])
def test_flags_sideways_pages(note: Gray, turns: int, skew: float) -> None:
    scan = distort(note, skew_degrees=skew, quarter_turns_ccw=turns, noise=0.003, seed=turns)

    estimate = measure_skew(scan)

    assert estimate.sideways is (turns % 2 == 1)
    assert abs(estimate.angle_degrees - skew) < TOLERANCE


@pytest.mark.parametrize(("turns", "skew"), [(0, 6.5), (1, -4.0), (3, 12.0)])
def test_deskew_and_quarter_turn_straighten_the_page(note: Gray, turns: int, skew: float) -> None:
    scan = distort(note, skew_degrees=skew, quarter_turns_ccw=turns, blur=3, seed=1)
    estimate = measure_skew(scan)

    straight = rotate_quarter(deskew(scan, estimate.angle_degrees), 90 * turns)
    again = measure_skew(straight)

    assert abs(again.angle_degrees) < TOLERANCE
    assert not again.sideways
    height, width = straight.shape
    assert height > width  # portrait again: the letter page is upright or upside down
    assert straight.dtype == np.uint8


def test_deskew_keeps_all_content_on_a_white_grown_canvas(note: Gray) -> None:
    scan = distort(note, skew_degrees=-9.0)

    turned = deskew(scan, -9.0)

    assert turned.shape[0] > scan.shape[0] and turned.shape[1] > scan.shape[1]
    assert _ink_fraction(turned) * turned.size == pytest.approx(_ink_fraction(scan) * scan.size, rel=0.1)
    corners = turned[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.min() >= 250


def test_deskew_ignores_tiny_angles(note: Gray) -> None:
    assert deskew(note, 0.03) is note
    assert deskew(note, -0.049) is note


def test_deskew_handles_bool_and_colour(note: Gray) -> None:
    bitonal = distort(note, skew_degrees=5.0) > 128
    colour = np.dstack([distort(note, skew_degrees=5.0)] * 3)

    flat = deskew(bitonal, 5.0)
    rgb = deskew(colour, 5.0)

    assert flat.dtype == np.bool_
    assert rgb.shape[2] == 3
    assert abs(measure_skew(flat).angle_degrees) < TOLERANCE
    assert abs(measure_skew(rgb).angle_degrees) < TOLERANCE


def test_rotate_quarter_turns_clockwise() -> None:
    grid = np.arange(6, dtype=np.uint8).reshape(2, 3)  # 0 1 2 / 3 4 5

    assert rotate_quarter(grid, 90).tolist() == [[3, 0], [4, 1], [5, 2]]
    assert rotate_quarter(grid, 180).tolist() == [[5, 4, 3], [2, 1, 0]]
    assert rotate_quarter(grid, 270).tolist() == [[2, 5], [1, 4], [0, 3]]
    assert rotate_quarter(grid, 0) is grid
    assert rotate_quarter(grid, -90).tolist() == rotate_quarter(grid, 270).tolist()


@pytest.mark.parametrize("degrees", [45, 1, 91])
def test_rotate_quarter_rejects_other_angles(degrees: int) -> None:
    with pytest.raises(ValueError, match="rotate_quarter"):
        rotate_quarter(np.zeros((4, 4), np.uint8), degrees)


def test_undoes_quarter_turns_in_the_right_direction(note: Gray) -> None:
    small = note[::4, ::4].copy()
    for turns in range(4):
        back = rotate_quarter(distort(small, quarter_turns_ccw=turns), 90 * turns)
        similarity = np.corrcoef(back.ravel().astype(float), small.ravel().astype(float))[0, 1]
        assert similarity > 0.99


@pytest.mark.parametrize(
    "page",
    [
        np.full((1650, 1275), 255, np.uint8),
        np.zeros((1650, 1275), np.uint8),
        np.full((1650, 1275), 140, np.uint8),
        distort(np.full((1650, 1275), 255, np.uint8), noise=0.05, seed=2),
        np.zeros((1, 1), np.uint8),
        np.zeros((0, 0), np.uint8),
    ],
    ids=["white", "black", "grey", "speckle", "one-pixel", "empty"],
)
def test_blank_pages_have_no_confidence(page: Gray) -> None:
    estimate = measure_skew(page)

    assert estimate.confidence < 0.05
    assert estimate.angle_degrees == 0.0
    assert not estimate.sideways


def test_one_bit_inputs(note: Gray) -> None:
    scan = distort(note, skew_degrees=-2.2, quarter_turns_ccw=3)
    as_bool = scan > 128
    as_01 = as_bool.astype(np.uint8)
    as_pil_1 = np.asarray(Image.fromarray(scan).convert("1", dither=Image.Dither.NONE))

    for bitonal in (as_bool, as_01, as_pil_1):
        estimate = measure_skew(bitonal)
        assert abs(estimate.angle_degrees + 2.2) < TOLERANCE
        assert estimate.sideways


def test_colour_input(note: Gray) -> None:
    scan = distort(note, skew_degrees=1.3)
    rgb = np.dstack([scan, scan, np.full_like(scan, 255)])
    rgba = np.dstack([scan, scan, scan, np.full_like(scan, 255)])

    for colour in (rgb, rgba):
        assert abs(measure_skew(colour).angle_degrees - 1.3) < TOLERANCE


def test_black_scanner_border(note: Gray) -> None:
    turned = np.asarray(Image.fromarray(note).rotate(4.0, expand=True, fillcolor=0))
    framed = cv2.copyMakeBorder(turned, 40, 60, 30, 50, cv2.BORDER_CONSTANT, value=0)

    for scan, sideways in ((framed, False), (np.rot90(framed), True)):
        estimate = measure_skew(scan)
        assert abs(estimate.angle_degrees - 4.0) < TOLERANCE
        assert estimate.sideways is sideways


def test_ruled_table_lines_do_not_mislead(note: Gray) -> None:
    ruled = note.copy()
    for x in range(150, 1150, 170):
        ruled[300:1500, x : x + 3] = 0
    for y in range(300, 1501, 60):
        ruled[y : y + 3, 150:1130] = 0

    for skew, turns in ((6.0, 0), (-3.0, 1)):
        estimate = measure_skew(distort(ruled, skew_degrees=skew, quarter_turns_ccw=turns, noise=0.005))
        assert abs(estimate.angle_degrees - skew) < TOLERANCE
        assert estimate.sideways is (turns == 1)


def test_low_text_page_still_measured() -> None:
    page = render_page("prescription", make_roster(1, seed=3)[0], seed=1, dpi=DPI, body_lines=3)

    estimate = measure_skew(distort(page, skew_degrees=-7.0))

    assert abs(estimate.angle_degrees + 7.0) < TOLERANCE
    assert estimate.confidence > 0.0


def test_max_angle_widens_the_search(note: Gray) -> None:
    scan = distort(note, skew_degrees=30.0)

    assert abs(measure_skew(scan, max_angle=45).angle_degrees - 30.0) < TOLERANCE
    assert measure_skew(scan).confidence < 0.5  # outside the default +-20 search


def test_fast_enough_on_a_300_dpi_page() -> None:
    page = render_page("history_physical", make_roster(1, seed=1)[0], seed=2, dpi=300)
    scan = distort(page, skew_degrees=3.0, noise=0.002)
    measure_skew(scan)  # warm-up

    start = time.perf_counter()
    measure_skew(scan)
    elapsed = time.perf_counter() - start

    assert elapsed < 0.5  # ~30-50 ms on two cores; generous for loaded CI machines


@pytest.mark.parametrize(("skew", "lines"), [(4.0, 2), (7.0, 2), (7.0, 1), (-7.9, 1)])
def test_a_logo_does_not_drown_sparse_bitonal_text(skew: float, lines: int) -> None:
    """A solid logo can hold more ink than a line or two of text; it used to flatten the
    line structure so that the page counted as blank (skew 0: several degrees off)."""
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 20)
    img = Image.new("L", (1275, 1650), 255)
    draw = ImageDraw.Draw(img)
    for i in range(lines):
        draw.text((150 + 40 * i, 400 + 90 * i), "Refill request received by fax", font=font, fill=0)
    page = np.asarray(img).copy()
    cv2.circle(page, (214, 184), 64, 0, -1)  # the logo: a solid disc in the corner
    scan = distort(page, skew_degrees=skew, noise=0.002, seed=3)
    bitonal = np.where(scan < 140, 0, 255).astype(np.uint8)

    estimate = measure_skew(bitonal)

    assert abs(estimate.angle_degrees - skew) < TOLERANCE
    assert estimate.confidence > 0.0
