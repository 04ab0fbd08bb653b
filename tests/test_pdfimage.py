"""Scanned PDF pages are taken straight from the file only when that gives what poppler
would render; every other page is rendered."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pdf2image
import pikepdf
import pytest
from PIL import Image

from chartclerk.ingest.pdfimage import scanned_page_image
from chartclerk.ingest.rasterize import rasterize_pdf_page, render_pdf_page
from chartclerk.settings import IngestSettings
from chartclerk.tests.scans import render_page, write_pdf

SETTINGS = IngestSettings()
MAX_PIXELS = SETTINGS.max_page_pixels


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return render_page("discharge_summary", None, seed=5, dpi=150)


def _close_to_render(path: Path, number: int = 1) -> np.ndarray:
    """The page taken directly, checked against poppler's rendering of it."""
    taken = scanned_page_image(path, number, SETTINGS.dpi, MAX_PIXELS)
    assert taken is not None, "the page should have been taken straight from the file"
    rendered = render_pdf_page(path, number, SETTINGS)
    assert taken.dtype == np.uint8 and taken.shape == rendered.shape
    assert np.abs(taken.astype(np.int16) - rendered).mean() < 4.0
    return taken


def _image_pdf(
    path: Path,
    pixels: np.ndarray,
    content: bytes | None = None,
    size_pt: tuple[float, float] | None = None,
    **extra: object,
) -> None:
    """A one-page PDF drawing ``pixels`` (a lossless Flate gray image) with ``content``
    (by default: the image over the whole page at 300 dpi)."""
    height, width = pixels.shape
    w_pt, h_pt = size_pt or (width * 72 / 300, height * 72 / 300)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, zlib.compress(np.ascontiguousarray(pixels).tobytes()))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = width, height, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.FlateDecode
    for key, value in extra.items():
        image[f"/{key}"] = value
    drawn = content if content is not None else f"q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q".encode()
    pdf.add_blank_page(page_size=(w_pt, h_pt))
    pdf.pages[0].obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    pdf.pages[0].obj.Contents = pikepdf.Stream(pdf, drawn)
    pdf.save(path)


def test_lossless_scan_is_taken_as_poppler_samples_it(tmp_path: Path, page: np.ndarray) -> None:
    scan = np.asarray(Image.fromarray(page).resize((page.shape[1] * 2, page.shape[0] * 2)))
    _image_pdf(tmp_path / "a.pdf", scan)
    taken = _close_to_render(tmp_path / "a.pdf")
    rendered = render_pdf_page(tmp_path / "a.pdf", 1, SETTINGS)
    assert np.array_equal(taken, cv2.blur(scan, (2, 2)))  # the scan's own pixels, 2 x 2 averaged
    assert np.abs(taken.astype(np.int16) - rendered).mean() < np.abs(scan.astype(np.int16) - rendered).mean()


def test_jpeg_gray_rgb_and_bilevel_scans_match_the_rendering(tmp_path: Path, page: np.ndarray) -> None:
    write_pdf(tmp_path / "gray.pdf", [page, page], dpi=150)  # JPEG, 150 dpi: scaled up to 300
    _close_to_render(tmp_path / "gray.pdf", 2)
    Image.fromarray(page).convert("RGB").save(tmp_path / "rgb.pdf", resolution=300.0)
    _close_to_render(tmp_path / "rgb.pdf")
    Image.fromarray(page).point(lambda v: 255 if v > 128 else 0).convert("1").save(
        tmp_path / "fax.pdf", resolution=300.0
    )
    with pikepdf.open(tmp_path / "fax.pdf") as pdf:  # Pillow writes bilevel pages as CCITT G4
        (image,) = pdf.pages[0].get_images().values()
        assert pikepdf.Name.CCITTFaxDecode in pikepdf.Array(image.Filter)
    taken = _close_to_render(tmp_path / "fax.pdf")
    assert 0.01 < (taken < 128).mean() < 0.5  # black text on white, not inverted
    with pikepdf.open(tmp_path / "fax.pdf") as pdf:  # the same bits with the other polarity
        (image,) = pdf.pages[0].get_images().values()
        image.DecodeParms[0].BlackIs1 = False
        pdf.save(tmp_path / "negative.pdf")
    assert (_close_to_render(tmp_path / "negative.pdf") < 128).mean() > 0.5


def test_high_resolution_scan_is_brought_down_to_the_configured_dpi(tmp_path: Path, page: np.ndarray) -> None:
    scan = np.asarray(Image.fromarray(page).resize((page.shape[1] * 4, page.shape[0] * 4)))  # 600 dpi
    _image_pdf(tmp_path / "fine.pdf", scan, size_pt=(page.shape[1] * 72 / 150, page.shape[0] * 72 / 150))
    taken = _close_to_render(tmp_path / "fine.pdf")
    assert taken.shape == (page.shape[0] * 2, page.shape[1] * 2)


def test_page_rotate_is_applied_as_a_viewer_shows_it(tmp_path: Path, page: np.ndarray) -> None:
    write_pdf(tmp_path / "r.pdf", [page], dpi=150)
    for degrees in (90, 180, 270):
        with pikepdf.open(tmp_path / "r.pdf") as pdf:
            pdf.pages[0].obj.Rotate = degrees
            pdf.save(tmp_path / f"r{degrees}.pdf")
        taken = _close_to_render(tmp_path / f"r{degrees}.pdf")
        upright = (page.shape[0] * 2, page.shape[1] * 2)
        assert taken.shape == (upright if degrees == 180 else upright[::-1])


@pytest.mark.parametrize(
    ("why", "content", "extra"),
    [
        ("text drawn over the scan", b"q 612 0 0 792 0 0 cm /Im0 Do Q BT /F1 12 Tf (x) Tj ET", {}),
        ("image on part of the page", b"q 306 0 0 396 0 0 cm /Im0 Do Q", {}),
        ("image mirrored", b"q -612 0 0 792 612 0 cm /Im0 Do Q", {}),
        ("image drawn twice", b"q 612 0 0 792 0 0 cm /Im0 Do Q q 612 0 0 792 0 0 cm /Im0 Do Q", {}),
        ("clipped", b"q 0 0 300 300 re W n 612 0 0 792 0 0 cm /Im0 Do Q", {}),
        ("inverted by /Decode", None, {"Decode": pikepdf.Array([1, 0])}),
        ("unbalanced Q", b"Q q 612 0 0 792 0 0 cm /Im0 Do Q", {}),
        ("nothing drawn", b"", {}),
    ],
)
def test_anything_but_one_full_page_image_is_rendered(
    tmp_path: Path, why: str, content: bytes | None, extra: dict[str, object]
) -> None:
    scan = np.full((792 * 300 // 72, 612 * 300 // 72), 255, dtype=np.uint8)
    _image_pdf(tmp_path / "x.pdf", scan, content, size_pt=(612, 792), **extra)
    assert scanned_page_image(tmp_path / "x.pdf", 1, SETTINGS.dpi, MAX_PIXELS) is None, why
    assert rasterize_pdf_page(tmp_path / "x.pdf", 1, SETTINGS).shape == (3300, 2550)


def test_annotations_crop_boxes_and_oversized_images_are_rendered(tmp_path: Path, page: np.ndarray) -> None:
    write_pdf(tmp_path / "p.pdf", [page], dpi=150)
    with pikepdf.open(tmp_path / "p.pdf") as pdf:
        pdf.pages[0].obj.Annots = pikepdf.Array([pikepdf.Dictionary(Subtype=pikepdf.Name.Square)])
        pdf.save(tmp_path / "annotated.pdf")
    with pikepdf.open(tmp_path / "p.pdf") as pdf:
        pdf.pages[0].obj.CropBox = pikepdf.Array([10, 10, 200, 200])
        pdf.save(tmp_path / "cropped.pdf")
    for name in ("annotated.pdf", "cropped.pdf"):
        assert scanned_page_image(tmp_path / name, 1, SETTINGS.dpi, MAX_PIXELS) is None, name
    assert scanned_page_image(tmp_path / "p.pdf", 1, SETTINGS.dpi, page.size - 1) is None


def test_a_flate_bomb_is_not_inflated(tmp_path: Path) -> None:
    """100 x 100 pixels declared, 200 MB of zeros inside: poppler reads what the page needs."""
    inflate = zlib.decompressobj()
    bomb = zlib.compress(bytes(200_000_000), 9)
    _image_pdf(tmp_path / "bomb.pdf", np.zeros((100, 100), dtype=np.uint8))
    with pikepdf.open(tmp_path / "bomb.pdf", allow_overwriting_input=True) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        image.write(bomb, filter=pikepdf.Name.FlateDecode)
        pdf.save(tmp_path / "bomb.pdf")
    assert len(inflate.decompress(bomb, 100 * 100 + 1)) > 100 * 100
    assert scanned_page_image(tmp_path / "bomb.pdf", 1, SETTINGS.dpi, MAX_PIXELS) is None


def test_corrupt_image_data_falls_back_to_poppler_and_its_error(tmp_path: Path, page: np.ndarray) -> None:
    write_pdf(tmp_path / "p.pdf", [page], dpi=150)
    with pikepdf.open(tmp_path / "p.pdf") as pdf:
        (image,) = pdf.pages[0].get_images().values()
        image.write(b"\xff\xd8\xff\xe0 not a jpeg", filter=pikepdf.Name.DCTDecode)
        pdf.save(tmp_path / "broken.pdf")
    assert scanned_page_image(tmp_path / "broken.pdf", 1, SETTINGS.dpi, MAX_PIXELS) is None
    assert scanned_page_image(tmp_path / "missing.pdf", 1, SETTINGS.dpi, MAX_PIXELS) is None


def test_scanned_pages_do_not_run_poppler(
    tmp_path: Path, page: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pdf(tmp_path / "p.pdf", [page, page], dpi=150)

    def no_poppler(*args: object, **kwargs: object) -> None:
        raise AssertionError("pdftoppm should not run for a scanned page")

    monkeypatch.setattr(pdf2image, "convert_from_path", no_poppler)
    assert rasterize_pdf_page(tmp_path / "p.pdf", 2, SETTINGS).shape == (page.shape[0] * 2, page.shape[1] * 2)


def test_archived_searchable_page_is_taken_from_under_its_invisible_text(
    page: np.ndarray, tmp_path: Path
) -> None:
    """The archive's own page (the scan and tesseract's invisible text over it) gives its own
    pixels and resolution without poppler (shrunk only when finer than asked); text that would
    show (any render mode but 3) is not passed over, and the page is rendered."""
    from chartclerk.ingest.pdfimage import scanned_page_pixels
    from chartclerk.ingest.rasterize import archived_page_image
    from chartclerk.ocr.tesseract import ocr_image
    from chartclerk.settings import OcrSettings
    from chartclerk.store import make_page_pdf

    layer = ocr_image(page, 150, OcrSettings()).text_layer_pdf
    path = tmp_path / "archived.pdf"
    path.write_bytes(make_page_pdf(page, 150, layer))
    assert scanned_page_image(path, 1, 100, MAX_PIXELS) is None  # for OCR, text on a page means poppler
    taken = scanned_page_pixels(path, 1, MAX_PIXELS)
    assert taken is not None
    pixels, dpi = taken
    assert abs(dpi - 150) < 0.01 and pixels.shape == page.shape
    assert np.abs(pixels.astype(np.int16) - page).mean() < 2.0  # the scan itself, JPEG aside
    same, same_dpi = archived_page_image(path, 1, SETTINGS)
    assert np.array_equal(same, pixels) and same_dpi == dpi
    small, small_dpi = archived_page_image(path, 1, SETTINGS, max_dpi=100)
    assert (
        small_dpi == 100
        and small.shape == render_pdf_page(path, 1, SETTINGS.model_copy(update={"dpi": 100})).shape
    )

    with pikepdf.open(path) as pdf:
        forms = [x for x in pdf.pages[0].resources.XObject.values() if x.get("/Subtype") == "/Form"]
        assert len(forms) == 1 and b"3 Tr" in forms[0].read_bytes()
        forms[0].write(forms[0].read_bytes().replace(b"3 Tr", b"0 Tr"))
        pdf.save(tmp_path / "visible.pdf")
    assert scanned_page_pixels(tmp_path / "visible.pdf", 1, MAX_PIXELS) is None
    rendered, rendered_dpi = archived_page_image(
        tmp_path / "visible.pdf", 1, SETTINGS.model_copy(update={"dpi": 75})
    )
    assert rendered_dpi == 75 and rendered.shape == (825, 638)
