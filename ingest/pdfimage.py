"""A scanned PDF page's picture taken straight from the file (pikepdf), without rendering.

Scanners write each page as one image drawn over the whole page and nothing else. Rendering
such a page with poppler decodes the image and resamples it onto a new raster (about 250 ms
for a 300 dpi letter page); decoding it directly takes about 40 ms. Anything else on the
page (text, vector drawing, annotations, masks, several images, a clip or crop, an unusual
colour space or encoding) and the page is left to poppler (``rasterize.py``), which stays
the one authority on what a page looks like: every doubt here answers ``None``.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import cv2
import numpy as np
import pikepdf
from pikepdf import Matrix, PdfImage
from PIL import Image

from chartclerk.ingest.models import GrayImage

log = logging.getLogger(__name__)

_PAINTING_OPS = frozenset({"q", "Q", "cm", "Do"})
_FILTERS = frozenset({"/DCTDecode", "/CCITTFaxDecode", "/FlateDecode"})  # what scanners write
_PIL_MODES = frozenset({"L", "1", "RGB", "P"})  # CMYK, Lab, 16-bit: poppler converts them better
_TOLERANCE_PT = 0.5  # how far the image may miss the page edges, in points
_NOT_TAKEN = (  # any of these: poppler renders the page instead, and reports what is wrong
    pikepdf.PikepdfError,  # PdfError and the image errors (unknown filter, JBIG2 without jbig2dec)
    Image.DecompressionBombError,
    zlib.error,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OSError,
    NotImplementedError,
)


def scanned_page_image(path: Path, number: int, dpi: int, max_pixels: int) -> GrayImage | None:
    """Page ``number`` (1-based) as 8-bit gray at ``dpi``, the size poppler would render it,
    when the page is only one image covering it; otherwise None (render the page instead)."""
    picture = _page_picture(path, number, max_pixels, invisible_text=False)
    if picture is None:
        return None
    gray, width_pt, height_pt, rotate = picture
    return _at_resolution(gray, width_pt, height_pt, dpi, rotate)


def scanned_page_pixels(path: Path, number: int, max_pixels: int) -> tuple[GrayImage, float] | None:
    """A searchable scanned page (one image over the whole page, and over it only text drawn
    invisibly, render mode 3, as the archive writes its pages): its picture as scanned, not
    resampled (turned by the page's /Rotate), and its resolution in pixels per inch; None for
    any other page."""
    picture = _page_picture(path, number, max_pixels, invisible_text=True)
    if picture is None:
        return None
    gray, width_pt, _, rotate = picture
    dpi = gray.shape[1] * 72.0 / width_pt
    if rotate:
        gray = np.ascontiguousarray(np.rot90(gray, k=-(rotate // 90)))
    return np.array(gray, dtype=np.uint8), dpi


def _page_picture(
    path: Path, number: int, max_pixels: int, *, invisible_text: bool
) -> tuple[GrayImage, float, float, int] | None:
    """The page's sole image decoded (read-only), the page's width and height in points and
    its /Rotate; None when the page is anything else."""
    try:
        with pikepdf.open(path) as pdf:
            page = pdf.pages[number - 1]
            rotate = int(page.obj.get("/Rotate", 0)) % 360
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            image = _sole_full_page_image(page, (x0, y0, x1, y1), invisible_text=invisible_text)
            if image is None or rotate % 90 or not _bounded(image, max_pixels):
                return None
            gray = _decode_gray(image)
            if gray is None:
                return None
    except _NOT_TAKEN as e:
        log.debug("page %d: not taken from the file directly (%s)", number, type(e).__name__)
        return None
    return gray, x1 - x0, y1 - y0, rotate


def _sole_full_page_image(
    page: pikepdf.Page, box: tuple[float, float, float, float], *, invisible_text: bool = False
) -> PdfImage | None:
    """The image when the page's content is exactly one image drawn over the whole media
    box ``box`` (x0, y0, x1, y1 in points), with ``invisible_text`` also forms that draw
    nothing but invisible text (they are passed over)."""
    if page.obj.get("/Annots") or page.cropbox != page.mediabox:
        return None
    xobjects = page.resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return None
    ctm, saved, drawn = Matrix(), [], []
    for instruction in pikepdf.parse_content_stream(page):
        op, operands = str(instruction.operator), instruction.operands
        if op not in _PAINTING_OPS:  # inline images included
            return None
        if op == "q":
            saved.append(ctm)
        elif op == "Q":
            if not saved:
                return None
            ctm = saved.pop()
        elif op == "cm":
            ctm = Matrix(*(float(v) for v in operands)) @ ctm
        elif not (invisible_text and _invisible_text_form(xobjects.get(str(operands[0])))):
            drawn.append((str(operands[0]), ctm))
    if len(drawn) != 1:
        return None
    name, where = drawn[0]
    stream = xobjects.get(name)
    if not isinstance(stream, pikepdf.Stream) or stream.get("/Subtype") != pikepdf.Name.Image:
        return None
    if any(key in stream for key in ("/ImageMask", "/SMask", "/Mask", "/Decode", "/SMaskInData")):
        return None
    x0, y0, x1, y1 = box
    placed = (where.a, where.b, where.c, where.d, where.e, where.f)
    wanted = (x1 - x0, 0.0, 0.0, y1 - y0, x0, y0)
    if any(abs(got - want) > _TOLERANCE_PT for got, want in zip(placed, wanted, strict=True)):
        return None
    return PdfImage(stream)


_TEXT_STATE_OPS = frozenset(
    {"BT", "ET", "Tf", "Td", "TD", "Tm", "T*", "Tz", "Tc", "Tw", "TL", "Ts", "q", "Q", "cm"}
)
_TEXT_SHOW_OPS = frozenset({"Tj", "TJ", "'", '"'})


def _invisible_text_form(xobject: object) -> bool:
    """A form XObject that draws only text in render mode 3 (invisible): an OCR text layer."""
    if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != pikepdf.Name.Form:
        return False
    resources = xobject.get("/Resources")
    if isinstance(resources, pikepdf.Dictionary) and "/XObject" in resources:
        return False
    mode, saved = 0, []
    for instruction in pikepdf.parse_content_stream(xobject):
        op = str(instruction.operator)
        if op == "Tr":
            mode = int(instruction.operands[0])
        elif op == "q":
            saved.append(mode)
        elif op == "Q":
            mode = saved.pop() if saved else mode
        elif op in _TEXT_SHOW_OPS:
            if mode != 3:
                return False
        elif op not in _TEXT_STATE_OPS:
            return False
    return True


def _bounded(image: PdfImage, max_pixels: int) -> bool:
    """Only the scanners' encodings, and never more pixels than the image declares: JPEG and
    Group 4 decode to their declared size (checked again after decoding), and a Flate stream
    is test-inflated up to that size first, so a zip bomb stops there. JBIG2, JPEG 2000 and
    the rest go to poppler, which decodes them in its own process under a time limit."""
    filters = [str(name) for name in image.filters]
    if len(filters) != 1 or filters[0] not in _FILTERS or image.bits_per_component not in (1, 8):
        return False
    if image.width * image.height > max_pixels:
        return False
    if filters[0] != "/FlateDecode":
        return True
    row = (image.width * image.bits_per_component * 3 + 7) // 8 + 1  # RGB at most, +1 predictor tag
    limit = image.height * row
    inflated = zlib.decompressobj().decompress(image.obj.read_raw_bytes(), limit + 1)
    return len(inflated) <= limit


def _decode_gray(image: PdfImage) -> GrayImage | None:
    with image.as_pil_image() as pil:
        if pil.mode not in _PIL_MODES or pil.size != (image.width, image.height):
            return None
        gray = pil if pil.mode == "L" else pil.convert("L")
        return np.asarray(gray, dtype=np.uint8)  # read-only; the 2 x 2 average makes the page's own copy


def _at_resolution(gray: GrayImage, width_pt: float, height_pt: float, dpi: int, rotate: int) -> GrayImage:
    """The picture scaled to the size poppler renders the page at ``dpi``, averaged over 2 x 2
    pixels as poppler's sampling does, then turned by the page's /Rotate (clockwise, as a
    viewer shows it).

    The 2 x 2 average is measured, not decoration: on JPEG scans it smooths compression
    ringing, and without it tesseract read the benchmark's pages slightly worse than from
    poppler's rendering (text similarity 99.76 against 99.80; with it 99.81)."""
    size = (max(1, round(width_pt * dpi / 72)), max(1, round(height_pt * dpi / 72)))
    height, width = gray.shape
    if abs(width - size[0]) > 1 or abs(height - size[1]) > 1:
        shrink = width > size[0]
        resized = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        gray = np.asarray(resized, dtype=np.uint8)
    gray = np.asarray(cv2.blur(gray, (2, 2)), dtype=np.uint8)
    if rotate:
        gray = np.ascontiguousarray(np.rot90(gray, k=-(rotate // 90)))
    return np.asarray(gray, dtype=np.uint8)
