"""Recognizing scan files and reading their pages; bad input gets one clear line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from chartclerk.errors import InputFileError
from chartclerk.files import sha256_file
from chartclerk.ingest import discover_files, inspect_source, is_separator, load_page, read_codes
from chartclerk.settings import IngestSettings
from chartclerk.tests.scans import render_page, separator_sheet, write_jpeg, write_pdf, write_png, write_tiff

SETTINGS = IngestSettings()


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return render_page("lab_report", None, seed=3, dpi=150)


def test_png_jpeg_tiff_pdf_are_recognized_and_read(tmp_path: Path, page: np.ndarray) -> None:
    write_png(tmp_path / "a.png", page, dpi=150)
    write_jpeg(tmp_path / "b.jpg", page, dpi=150)
    write_tiff(tmp_path / "c.tif", [page, page, page], dpi=150, group4=True)
    write_pdf(tmp_path / "d.pdf", [page, page], dpi=150)
    expect = {"a.png": ("png", 1), "b.jpg": ("jpeg", 1), "c.tif": ("tiff", 3), "d.pdf": ("pdf", 2)}
    for name, (kind, pages) in expect.items():
        source = inspect_source(tmp_path / name, SETTINGS)
        assert (source.kind, source.page_count) == (kind, pages)
        assert source.sha256 == sha256_file(tmp_path / name)
        loaded = load_page(source, pages, SETTINGS)
        assert loaded.image.dtype == np.uint8 and loaded.image.ndim == 2
        assert loaded.image.mean() > 200  # mostly white paper, dark text
        assert loaded.image.min() < 60


def test_pdf_pages_are_rasterized_at_configured_dpi(tmp_path: Path, page: np.ndarray) -> None:
    write_pdf(tmp_path / "d.pdf", [page], dpi=150)
    loaded = load_page(inspect_source(tmp_path / "d.pdf", SETTINGS), 1, SETTINGS)
    assert loaded.dpi == 300
    assert abs(loaded.image.shape[1] - page.shape[1] * 2) <= 2


def test_dpi_recorded_or_not(tmp_path: Path, page: np.ndarray) -> None:
    write_png(tmp_path / "with.png", page, dpi=150)
    write_png(tmp_path / "without.png", page, dpi=None)
    assert load_page(inspect_source(tmp_path / "with.png", SETTINGS), 1, SETTINGS).dpi == pytest.approx(
        150, abs=1
    )
    assert load_page(inspect_source(tmp_path / "without.png", SETTINGS), 1, SETTINGS).dpi is None


def test_sixteen_bit_cmyk_and_alpha_images_become_gray(tmp_path: Path) -> None:
    arr16 = np.full((400, 300), 60000, dtype=np.uint16)
    arr16[100:120, 50:250] = 1000
    Image.fromarray(arr16).save(tmp_path / "16.tif")
    Image.new("CMYK", (300, 400), (0, 0, 0, 0)).save(tmp_path / "cmyk.tif")
    Image.new("RGBA", (300, 400), (0, 0, 0, 0)).save(tmp_path / "alpha.png")
    for name in ("16.tif", "cmyk.tif", "alpha.png"):
        img = load_page(inspect_source(tmp_path / name, SETTINGS), 1, SETTINGS).image
        assert img.dtype == np.uint8 and img.ndim == 2
        assert img.mean() > 200, name  # white paper stays white
    img16 = load_page(inspect_source(tmp_path / "16.tif", SETTINGS), 1, SETTINGS).image
    assert img16[110, 100] < 10


def _write_bad_inputs(folder: Path, page: np.ndarray) -> dict[str, str]:
    """Each bad input and the words its error must contain."""
    (folder / "empty.pdf").write_bytes(b"")
    write_pdf(folder / "good.pdf", [page], dpi=150)
    data = (folder / "good.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 3])
    with pikepdf.open(folder / "good.pdf") as pdf:
        pdf.save(folder / "locked.pdf", encryption=pikepdf.Encryption(user="secret", owner="owner"))
    with zipfile.ZipFile(folder / "letter.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    (folder / "notes.txt").write_text("not a scan\n", encoding="utf-8")
    write_png(folder / "good.png", page, dpi=150)
    (folder / "truncated.png").write_bytes((folder / "good.png").read_bytes()[:2000])
    Image.new("1", (30000, 30000)).save(folder / "bomb.png", optimize=True)
    Image.new("L", (1, 1), 255).save(folder / "dot.png")
    (folder / "good.pdf").unlink()
    (folder / "good.png").unlink()
    return {
        "empty.pdf": "empty file",
        "truncated.pdf": "corrupt PDF",
        "locked.pdf": "encrypted PDF",
        "letter.docx": "ZIP or Office",
        "notes.txt": "text file",
        "truncated.png": "corrupt image",
        "bomb.png": "too large",
        "dot.png": "too small",
    }


def test_bad_inputs_get_one_clear_line_and_stay_unchanged(tmp_path: Path, page: np.ndarray) -> None:
    expected = _write_bad_inputs(tmp_path, page)
    settings = IngestSettings(max_page_pixels=100_000_000)
    for name, words in expected.items():
        path = tmp_path / name
        before = path.read_bytes()
        with pytest.raises(InputFileError) as caught:
            source = inspect_source(path, settings)
            load_page(source, 1, settings)  # some damage only shows when the page is decoded
        assert words in str(caught.value), name
        assert "\n" not in str(caught.value)
        assert path.read_bytes() == before


def test_wrong_extension_is_sniffed_by_content(tmp_path: Path, page: np.ndarray) -> None:
    write_jpeg(tmp_path / "scan.pdf", page, dpi=150)
    assert inspect_source(tmp_path / "scan.pdf", SETTINGS).kind == "jpeg"


def test_discover_walks_folders_and_skips_hidden_and_temporary(tmp_path: Path, page: np.ndarray) -> None:
    (tmp_path / "sub" / ".hidden").mkdir(parents=True)
    for name in ("a.png", "sub/b.png", "sub/.hidden/c.png", ".d.png", "Thumbs.db", "e.png.part", "~$f.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in discover_files([tmp_path]))
    assert found == ["a.png", "sub/b.png"]
    excluded = discover_files([tmp_path], exclude=[tmp_path / "sub"])
    assert [p.relative_to(tmp_path).as_posix() for p in excluded] == ["a.png"]


@pytest.mark.parametrize("kind", ["qr", "code128", "code39"])
def test_separator_sheets_are_recognized(kind: str) -> None:
    from chartclerk.tests.scans import distort

    sheet = distort(separator_sheet("PATCHT", kind=kind, dpi=200), skew_degrees=2.5, noise=0.002, seed=1)
    codes = read_codes(sheet)
    assert is_separator(codes, "PATCHT")
    assert not is_separator(read_codes(render_page("referral", None, seed=1, dpi=150)), "PATCHT")
