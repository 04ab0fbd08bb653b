"""Sanity of the synthetic scan generator the other tests rely on."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pikepdf
import pytest
import zxingcpp
from PIL import Image

from chartclerk.tests.scans import (
    DOC_TYPES,
    FONTS,
    distort,
    make_roster,
    render_document,
    render_page,
    separator_sheet,
    write_jpeg,
    write_pdf,
    write_png,
    write_roster_csv,
    write_tiff,
)

DPI = 100  # the generator's own checks need no detail


def _ink_fraction(img: np.ndarray) -> float:
    return float(np.count_nonzero(img < 128)) / img.size


def test_roster_is_deterministic_varied_and_well_formed() -> None:
    roster = make_roster(60, seed=4)

    assert roster == make_roster(60, seed=4)
    assert roster != make_roster(60, seed=5)
    assert len({p.mrn for p in roster}) == 60
    assert all(p.mrn.isdigit() and len(p.mrn) in (7, 8) for p in roster)
    assert all(dt.date(1930, 1, 1) <= p.dob <= dt.date(2015, 12, 31) for p in roster)
    assert {p.sex for p in roster} == {"F", "M"}
    assert len({p.last for p in roster}) > 25


def test_roster_csv_round_trip(tmp_path: Path) -> None:
    roster = make_roster(5, seed=1)
    path = tmp_path / "roster.csv"

    write_roster_csv(path, roster)

    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["mrn", "last", "first", "dob", "sex"]
    assert [(r["mrn"], r["last"], r["first"], r["sex"]) for r in rows] == [
        (p.mrn, p.last, p.first, p.sex) for p in roster
    ]
    assert [dt.date.fromisoformat(r["dob"]) for r in rows] == [p.dob for p in roster]


def test_render_page_is_deterministic_per_seed() -> None:
    patient = make_roster(1, seed=2)[0]

    first = render_page("progress_note", patient, seed=9, dpi=DPI)

    assert np.array_equal(first, render_page("progress_note", patient, seed=9, dpi=DPI))
    assert not np.array_equal(first, render_page("progress_note", patient, seed=10, dpi=DPI))


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_every_doc_type_renders_a_plausible_page(doc_type: str) -> None:
    patient = make_roster(1, seed=3)[0]

    doc = render_document(doc_type, patient, seed=1, dpi=DPI)

    (page,) = doc.pages
    assert page.shape == (1100, 850)
    assert page.dtype == np.uint8
    assert 0.003 < _ink_fraction(page) < 0.12
    assert 15 <= len(doc.lines) <= 45
    assert any(patient.mrn in line for line in doc.lines)
    assert doc.doc_type == doc_type
    assert doc.font in FONTS


def test_page_without_patient_or_title() -> None:
    doc = render_document("other", None, seed=2, dpi=DPI, title=False, body_lines=5)

    assert len(doc.lines) == 2 + 5  # letterhead and address, then the body
    assert not any("MRN" in line for line in doc.lines)


def test_multi_page_document_repeats_patient_on_each_page() -> None:
    patient = make_roster(1, seed=8)[0]

    doc = render_document("history_physical", patient, seed=4, dpi=DPI, pages=3, font="LiberationSerif")

    assert len(doc.pages) == 3
    assert doc.font == "LiberationSerif"
    assert sum(f"MRN {patient.mrn}" in line and "Page" in line for line in doc.lines) == 2
    assert all(_ink_fraction(page) > 0.003 for page in doc.pages)


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="doc_type"):
        render_page("memo", None)
    with pytest.raises(ValueError, match="font"):
        render_page("other", None, font="Comic Sans")


def test_distort_turns_counter_clockwise_and_grows_the_canvas() -> None:
    page = np.full((200, 400), 255, np.uint8)
    page[98:102, 50:350] = 0  # a horizontal bar

    turned = distort(page, skew_degrees=10.0)
    rows, cols = np.nonzero(turned < 128)
    left, right = rows[cols == cols.min()].mean(), rows[cols == cols.max()].mean()

    assert right < left  # the right end went up: counter-clockwise on screen
    assert turned.shape[0] > 200 and turned.shape[1] > 400
    assert distort(page, quarter_turns_ccw=1).shape == (400, 200)
    assert np.array_equal(distort(page, quarter_turns_ccw=1)[:, 99], page[99, ::-1])


def test_distort_noise_and_blur_are_seeded() -> None:
    page = render_page("referral", None, seed=1, dpi=DPI)

    noisy = distort(page, noise=0.02, blur=3, seed=5)

    assert np.array_equal(noisy, distort(page, noise=0.02, blur=3, seed=5))
    assert not np.array_equal(noisy, distort(page, noise=0.02, blur=3, seed=6))
    assert 0.005 < float(np.mean(noisy != page)) < 0.5


@pytest.mark.parametrize("kind", ["qr", "code128", "code39"])
def test_separator_sheet_code_reads_back(kind: str) -> None:
    sheet = separator_sheet("PATCHT", kind, dpi=200)

    for scan in (sheet, distort(sheet, skew_degrees=3.0, blur=3)):
        assert [code.text for code in zxingcpp.read_barcodes(scan)] == ["PATCHT"]


def test_png_with_and_without_dpi(tmp_path: Path) -> None:
    page = render_page("consent_form", None, seed=1, dpi=DPI)

    write_png(tmp_path / "a.png", page, dpi=DPI)
    write_png(tmp_path / "b.png", page, dpi=None)

    with Image.open(tmp_path / "a.png") as img:
        assert round(img.info["dpi"][0]) == DPI
        assert np.array_equal(np.asarray(img), page)
    with Image.open(tmp_path / "b.png") as img:
        assert "dpi" not in img.info


def test_jpeg_records_dpi(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "a.jpg", render_page("prescription", None, seed=1, dpi=DPI), dpi=DPI)

    with Image.open(tmp_path / "a.jpg") as img:
        assert img.format == "JPEG"
        assert round(img.info["dpi"][0]) == DPI


@pytest.mark.parametrize("group4", [False, True])
def test_multi_page_tiff(tmp_path: Path, group4: bool) -> None:
    pages = render_document("discharge_summary", None, seed=1, dpi=DPI, pages=3).pages
    path = tmp_path / "scan.tif"

    write_tiff(path, pages, dpi=DPI, group4=group4)

    with Image.open(path) as img:
        assert getattr(img, "n_frames", 1) == 3
        assert round(img.info["dpi"][0]) == DPI
        assert img.mode == ("1" if group4 else "L")
        assert img.info["compression"] == ("group4" if group4 else "tiff_adobe_deflate")
        img.seek(2)
        assert _ink_fraction(np.asarray(img.convert("L"))) > 0.003


def test_multi_page_pdf(tmp_path: Path) -> None:
    pages = render_document("operative_report", None, seed=1, dpi=DPI, pages=2).pages
    path = tmp_path / "scan.pdf"

    write_pdf(path, [*pages, separator_sheet(dpi=DPI)], dpi=DPI)

    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 3
        width = float(pdf.pages[0].mediabox[2])
        assert width == pytest.approx(8.5 * 72, abs=1)
    assert path.stat().st_size < 600_000
