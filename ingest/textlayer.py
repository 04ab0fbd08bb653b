"""Does a PDF page already carry its text? A look at its content stream, without rendering.

:func:`survey_pdf_page` walks the page's drawing operators (and those of the forms it
draws) with pikepdf, tracking the transformation matrices, and counts the characters
that text operators show: drawn visibly, or invisibly (render mode 3 or 7, an OCR
engine's layer), or hidden under a picture drawn after them; where the pictures lie and
how much of the page they cover; which way the text runs. No glyph is rendered and no
text decoded, so a scanner's page (one picture, no text) is answered in about a
millisecond. :func:`text_quality` then judges text poppler decoded: characters that map
to nothing, and the share of words found in a dictionary.

A page is:

- ``scan``: no text at all;
- ``text``: visible text on a page that pictures cover less than half of (born digital);
- ``layer``: text that may not be what the page shows, so it is kept only when a quick OCR
  of the page agrees with it (``page_worker``), otherwise the page is read again: text
  mostly invisible or hidden under a picture, or set in a glyph-less font (another
  program's OCR), or visible text on a page mostly covered by pictures (a fax header
  stamped on a scan, whose picture holds what the text does not; or a letter typed over a
  letterhead picture, whose text is the page's).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pikepdf
from pikepdf import Name, PdfImage
from PIL import Image

from chartclerk.errors import MissingDependencyError
from chartclerk.ingest.models import GrayImage

log = logging.getLogger(__name__)

PageKind = Literal["scan", "text", "layer"]
Matrix = tuple[float, float, float, float, float, float]

DICTIONARY = Path("/usr/share/dict/words")  # Debian's wamerican
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_SHOW_OPS = frozenset({"Tj", "TJ", "'", '"'})
_INVISIBLE_MODES = frozenset({3, 7})
_MAX_OPERATORS = 200_000  # beyond this a page is not judged: it is read as a scan
_MAX_FORM_DEPTH = 6
_PICTURE_COVER = 0.5  # pictures over at least this share of the page: their content counts
_HIDING_PICTURE = 0.05  # a picture this big (share of the page) drawn over text hides it
_CODE_MIN_PT = 36.0  # a picture smaller than half an inch cannot hold a readable separator code
_MAX_CODE_IMAGES = 4
_MAX_CODE_PIXELS = 25_000_000
_NOT_SURVEYED = (
    pikepdf.PdfError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    ZeroDivisionError,
    OverflowError,
    RecursionError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class PageSurvey:
    """What a page's content stream draws."""

    rotate: int  # the page's /Rotate, 0/90/180/270
    chars: int  # characters (string bytes) shown by text operators
    visible_chars: int  # ...neither invisible nor under a picture drawn after them
    picture_cover: float  # share of the page under pictures, 0..1
    ocr_font: bool  # a glyph-less font: the text layer of an OCR engine
    direction: int | None  # where most text runs, counter-clockwise quarter turn in PDF space
    skew_degrees: float  # how far that text is turned beyond its quarter turn (counter-clockwise)
    code_pictures: int  # pictures big enough to hold a separator or cover sheet code

    @property
    def kind(self) -> PageKind:
        if self.chars == 0:
            return "scan"
        if self.ocr_font or self.visible_chars * 2 < self.chars or self.picture_cover >= _PICTURE_COVER:
            return "layer"
        return "text"

    @property
    def upright_rotate(self) -> int:
        """The /Rotate that shows the page's text upright: its text direction when known,
        else the file's own /Rotate."""
        return self.rotate if self.direction is None else self.direction


SCANNED = PageSurvey(0, 0, 0, 1.0, False, None, 0.0, 0)


@dataclass(slots=True)
class _Walk:
    page_area: float
    box: tuple[float, float, float, float]
    operators: int = 0
    order: int = 0
    chars: int = 0
    ocr_font: bool = False
    code_pictures: int = 0
    texts: list[tuple[float, float, int, int, bool]] = field(
        default_factory=list
    )  # x, y, order, chars, invisible
    pictures: list[tuple[tuple[float, float, float, float], int]] = field(default_factory=list)  # box, order
    # quarter turn -> (residual angle, chars) of each text shown that way
    directions: dict[int, list[tuple[float, int]]] = field(default_factory=dict)


def survey_pdf_page(path: Path, number: int) -> PageSurvey:
    """Page ``number`` (1-based)'s drawing, or :data:`SCANNED` (read it as a scan) when it
    cannot be surveyed."""
    try:
        with pikepdf.open(path) as pdf:
            return survey_page(pdf.pages[number - 1])
    except _NOT_SURVEYED as e:
        log.debug("page %d: not surveyed (%s), read as a scan", number, type(e).__name__)
        return SCANNED


def survey_page(page: pikepdf.Page) -> PageSurvey:
    rotate = int(page.obj.get(Name.Rotate, 0)) % 360
    rotate = rotate if rotate % 90 == 0 else 0
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    area = (box[2] - box[0]) * (box[3] - box[1])
    if area <= 0:
        return SCANNED
    walk = _Walk(area, box)
    resources = page.obj.get(Name.Resources)
    _walk(pikepdf.parse_content_stream(page), resources, _IDENTITY, walk, 0, set())
    return _summary(walk, rotate)


def _summary(walk: _Walk, rotate: int) -> PageSurvey:
    hiding = [(b, o) for b, o in walk.pictures if _area(b) >= _HIDING_PICTURE * walk.page_area]
    visible = 0
    for x, y, order, chars, invisible in walk.texts:
        hidden = any(o > order and b[0] <= x <= b[2] and b[1] <= y <= b[3] for b, o in hiding)
        if not invisible and not hidden:
            visible += chars
    cover = min(1.0, sum(_area(_clip(b, walk.box)) for b, _ in walk.pictures) / walk.page_area)
    direction, skew = None, 0.0
    if walk.directions:
        quarter, shown = max(walk.directions.items(), key=lambda kv: sum(n for _, n in kv[1]))
        count = sum(n for _, n in shown)
        if count * 10 >= walk.chars * 6:  # a clear majority of the text runs one way
            direction, skew = quarter, round(_weighted_median(shown), 2)
    return PageSurvey(
        rotate, walk.chars, visible, round(cover, 3), walk.ocr_font, direction, skew, walk.code_pictures
    )


def _walk(
    instructions: list[pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage],
    resources: object,
    ctm: Matrix,
    walk: _Walk,
    depth: int,
    forms: set[tuple[int, int]],
) -> None:
    fonts = resources.get(Name.Font) if isinstance(resources, pikepdf.Dictionary) else None
    xobjects = resources.get(Name.XObject) if isinstance(resources, pikepdf.Dictionary) else None
    saved: list[tuple[Matrix, int]] = []
    mode, leading, size = 0, 0.0, 1.0
    tm = tlm = _IDENTITY
    for instruction in instructions:
        walk.operators += 1
        if walk.operators > _MAX_OPERATORS:
            raise ValueError("too many operators")
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            walk.order += 1
            walk.pictures.append((_unit_box(ctm), walk.order))
            continue
        op, args = str(instruction.operator), instruction.operands
        if op == "q":
            saved.append((ctm, mode))
        elif op == "Q" and saved:
            ctm, mode = saved.pop()
        elif op == "cm":
            ctm = _mul(_matrix(args), ctm)
        elif op == "BT":
            tm = tlm = _IDENTITY
        elif op == "Tr":
            mode = int(args[0])
        elif op == "TL":
            leading = float(args[0])
        elif op == "Tf":
            size = float(args[1]) or 1.0
            font = fonts.get(str(args[0])) if isinstance(fonts, pikepdf.Dictionary) else None
            if isinstance(font, pikepdf.Dictionary) and "GlyphLess" in str(font.get(Name.BaseFont, "")):
                walk.ocr_font = True
        elif op == "Tm":
            tm = tlm = _matrix(args)
        elif op in ("Td", "TD"):
            if op == "TD":
                leading = -float(args[1])
            tm = tlm = _mul((1.0, 0.0, 0.0, 1.0, float(args[0]), float(args[1])), tlm)
        elif op == "T*":
            tm = tlm = _mul((1.0, 0.0, 0.0, 1.0, 0.0, -leading), tlm)
        elif op in _SHOW_OPS:
            if op in ("'", '"'):
                tm = tlm = _mul((1.0, 0.0, 0.0, 1.0, 0.0, -leading), tlm)
            chars = _shown_bytes(args[-1])
            if chars:
                _shown(walk, _mul((size, 0.0, 0.0, size, 0.0, 0.0), _mul(tm, ctm)), chars, mode)
                # The next show on the line starts further right; one step keeps it in the picture.
                tm = _mul((1.0, 0.0, 0.0, 1.0, chars * 0.5, 0.0), tm)
        elif op == "Do" and isinstance(xobjects, pikepdf.Dictionary):
            _draw_xobject(xobjects.get(str(args[0])), resources, ctm, walk, depth, forms)


def _draw_xobject(
    xobject: object,
    resources: object,
    ctm: Matrix,
    walk: _Walk,
    depth: int,
    forms: set[tuple[int, int]],
) -> None:
    if not isinstance(xobject, pikepdf.Stream):
        return
    subtype = xobject.get(Name.Subtype)
    if subtype == Name.Image:
        walk.order += 1
        box = _unit_box(ctm)
        walk.pictures.append((box, walk.order))
        if box[2] - box[0] >= _CODE_MIN_PT and box[3] - box[1] >= _CODE_MIN_PT:
            walk.code_pictures += 1
    elif subtype == Name.Form and depth < _MAX_FORM_DEPTH:
        key = xobject.objgen
        if key in forms:  # a form drawing itself
            return
        matrix = _matrix(xobject.get(Name.Matrix, [1, 0, 0, 1, 0, 0]))
        inner = xobject.get(Name.Resources, resources)
        content = pikepdf.parse_content_stream(xobject)
        _walk(content, inner, _mul(matrix, ctm), walk, depth + 1, forms | {key})


def _shown(walk: _Walk, trm: Matrix, chars: int, mode: int) -> None:
    walk.chars += chars
    walk.order += 1
    walk.texts.append((trm[4], trm[5], walk.order, chars, mode in _INVISIBLE_MODES))
    angle = math.degrees(math.atan2(trm[1], trm[0])) % 360
    quarter = round(angle / 90) % 4 * 90
    residual = (angle - quarter + 180) % 360 - 180
    walk.directions.setdefault(quarter, []).append((residual, chars))


def _weighted_median(values: list[tuple[float, int]]) -> float:
    """The angle half the characters lie at or below: a stamp at 45 degrees on a level page
    does not tilt it."""
    ordered = sorted(values)
    half, seen = sum(n for _, n in ordered) / 2, 0
    for value, n in ordered:
        seen += n
        if seen >= half:
            return value
    return 0.0


def _shown_bytes(operand: object) -> int:
    if isinstance(operand, pikepdf.String):
        return len(bytes(operand))
    if isinstance(operand, pikepdf.Array):
        return sum(len(bytes(item)) for item in operand if isinstance(item, pikepdf.String))
    return 0


def _matrix(values: object) -> Matrix:
    numbers = [float(v) for v in values]  # type: ignore[attr-defined]
    if len(numbers) != 6 or not all(math.isfinite(v) for v in numbers):
        raise ValueError("bad matrix")
    return (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])


def _mul(m: Matrix, n: Matrix) -> Matrix:
    """``m`` then ``n`` (PDF's row-vector convention: a point times m times n)."""
    a1, b1, c1, d1, e1, f1 = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    )


def _unit_box(ctm: Matrix) -> tuple[float, float, float, float]:
    a, b, c, d, e, f = ctm
    xs = (e, a + e, c + e, a + c + e)
    ys = (f, b + f, d + f, b + d + f)
    return (min(xs), min(ys), max(xs), max(ys))


def _clip(
    box: tuple[float, float, float, float], page: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    return (max(box[0], page[0]), max(box[1], page[1]), min(box[2], page[2]), min(box[3], page[3]))


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def code_pictures(path: Path, number: int) -> Iterator[GrayImage]:
    """The pictures on a text page big enough to hold a separator or cover sheet code, each
    as 8-bit gray at its own resolution (at most a few, each bounded in pixels); pictures
    that cannot be decoded are skipped."""
    try:
        with pikepdf.open(path) as pdf:
            images = _page_images(pdf.pages[number - 1])
            found = 0
            for image in images:
                if found == _MAX_CODE_IMAGES:
                    return
                gray = _decoded(image)
                if gray is not None:
                    found += 1
                    yield gray
    except _NOT_SURVEYED as e:
        log.debug("page %d: pictures not read (%s)", number, type(e).__name__)


def _page_images(page: pikepdf.Page) -> list[PdfImage]:
    xobjects = page.resources.get(Name.XObject)
    if not isinstance(xobjects, pikepdf.Dictionary):
        return []
    found = []
    for value in xobjects.values():
        if isinstance(value, pikepdf.Stream) and value.get(Name.Subtype) == Name.Image:
            width, height = int(value.get(Name.Width, 0)), int(value.get(Name.Height, 0))
            if 0 < width * height <= _MAX_CODE_PIXELS and min(width, height) >= 32:
                found.append(PdfImage(value))
    return found


def _decoded(image: PdfImage) -> GrayImage | None:
    try:
        with image.as_pil_image() as pil:
            if pil.size != (image.width, image.height):
                return None
            return np.asarray(pil.convert("L"), dtype=np.uint8)
    except (pikepdf.PdfError, OSError, ValueError, NotImplementedError, Image.DecompressionBombError):
        return None


@dataclass(frozen=True, slots=True)
class TextQuality:
    words: int  # words of three letters or more
    in_dictionary: float  # their share found in the dictionary (1.0 when there are none)
    unmapped: float  # share of characters that map to nothing readable (U+FFFD, private use, controls)


_LETTERS = re.compile(r"[^\W\d_]{3,}")


def text_quality(text: str) -> TextQuality:
    """How much of ``text`` is language: poppler writes U+FFFD or private-use characters for
    glyphs a font does not map to Unicode, and a broken or scrambled mapping gives words no
    dictionary knows."""
    chars = [c for c in text if not c.isspace()]
    bad = sum(1 for c in chars if c == "\ufffd" or unicodedata.category(c) in ("Co", "Cc", "Cs", "Cn"))
    words = _LETTERS.findall(text)
    known = dictionary()
    found = sum(1 for w in words if _known(w, known))
    return TextQuality(
        words=len(words),
        in_dictionary=found / len(words) if words else 1.0,
        unmapped=bad / len(chars) if chars else 0.0,
    )


def _known(word: str, known: frozenset[str]) -> bool:
    lower = word.lower()
    return lower in known or (lower.endswith("s") and lower[:-1] in known)


@cache
def dictionary() -> frozenset[str]:
    """The system word list, lower case (Debian: wamerican, /usr/share/dict/words)."""
    try:
        text = DICTIONARY.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise MissingDependencyError(f"no word list at {DICTIONARY} (Debian: wamerican)") from e
    return frozenset(line.strip().lower().removesuffix("'s") for line in text.splitlines() if line.strip())
