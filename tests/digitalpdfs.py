"""Born-digital PDFs for the tests, made with fpdf2: text pages, scanned pages, pages with
another program's invisible OCR layer (good or garbled), text hidden under a picture,
rotated pages and a hostile PDF. The text comes from ``tests/scans.py``'s documents."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from fpdf import FPDF
from PIL import Image

from chartclerk.ingest.models import GrayImage

LETTER_PT = (612.0, 792.0)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True, slots=True)
class Page:
    """One page to write: text lines (a digital page) or a picture covering it (a scan)."""

    lines: tuple[str, ...] = ()
    picture: GrayImage | None = None
    font: str = "Helvetica"  # or "DejaVu" (embedded TrueType)
    size: tuple[float, float] = LETTER_PT  # as displayed, in points
    picture_box: tuple[float, float, float, float] | None = None  # x, y, w, h (points, top left)


def write_digital(path: Path, pages: Sequence[Page]) -> Path:
    """A PDF of ``pages``; text drawn in reading order, 14 pt apart, from 1 inch in."""
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    if any(p.font == "DejaVu" for p in pages):
        pdf.add_font("DejaVu", "", str(DEJAVU))
    for page in pages:
        pdf.add_page(format=page.size)
        if page.picture is not None:
            x, y, w, h = page.picture_box or (0.0, 0.0, *page.size)
            pdf.image(_pil(page.picture), x=x, y=y, w=w, h=h)
        pdf.set_font(page.font, size=10.5)
        for i, line in enumerate(page.lines):
            pdf.text(72, 86 + 14 * i, line)
    pdf.output(str(path))
    return path


def write_layered(
    path: Path,
    picture: GrayImage,
    words: Sequence[tuple[str, float, float, float, float]],
    *,
    hidden_under: bool = False,
    dpi: int = 300,
) -> Path:
    """A scanned page (``picture`` over the whole page) with a text layer of ``words``
    (text, left, top, width, height in the picture's pixels): invisible text over the
    picture, as an OCR program writes it, or (``hidden_under``) visible text drawn first
    and covered by the picture."""
    size = (picture.shape[1] * 72 / dpi, picture.shape[0] * 72 / dpi)
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.add_page(format=size)
    if not hidden_under:
        pdf.image(_pil(picture), x=0, y=0, w=size[0], h=size[1])
    pdf.text_mode = "FILL" if hidden_under else "INVISIBLE"
    for text, left, top, _width, height in words:
        pdf.set_font("Helvetica", size=max(4.0, height * 72 / dpi * 1.2))
        pdf.text(left * 72 / dpi, (top + height) * 72 / dpi, text)
    if hidden_under:
        pdf.image(_pil(picture), x=0, y=0, w=size[0], h=size[1])
    pdf.output(str(path))
    return path


_OCR_SLIPS = (("e", "c"), ("m", "rn"), ("l", "1"), ("o", "0"), ("h", "b"), ("a", "o"), ("i", "l"), ("n", "u"))


def garble(
    words: Sequence[tuple[str, float, float, float, float]], seed: int, share: float = 0.5
) -> list[tuple[str, float, float, float, float]]:
    """An old OCR engine's reading of ``words``: about ``share`` of them with letters confused."""
    rng = random.Random(seed)
    out = []
    for text, *box in words:
        if rng.random() < share:
            for a, b in rng.sample(_OCR_SLIPS, 3):
                text = text.replace(a, b, 1)
        out.append((text, *box))
    return out  # type: ignore[return-value]


def turn_content(path: Path, rotate: int, *, upright: bool = True) -> Path:
    """Set every page's /Rotate to ``rotate``. With ``upright`` the drawing is turned the other
    way first (as a landscape page printed to PDF is written), so the page still shows upright;
    without it the page shows turned."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            w, h = x1 - x0, y1 - y0
            if upright and rotate % 360:
                # displayed (x', y') -> drawn (x, y) for a page the viewer turns ``rotate`` clockwise
                matrix = {90: (0, 1, -1, 0, h, 0), 180: (-1, 0, 0, -1, w, h), 270: (0, -1, 1, 0, 0, w)}[
                    rotate
                ]
                page.contents_add(pdf.make_stream(b"q %g %g %g %g %g %g cm\n" % matrix), prepend=True)
                page.contents_add(pdf.make_stream(b"\nQ\n"))
                if rotate in (90, 270):
                    page.mediabox = pikepdf.Array([0, 0, h, w])
            page.obj.Rotate = rotate
        pdf.save(path)
    return path


def scramble_mapping(path: Path) -> Path:
    """Give every font of the PDF a /ToUnicode map that shifts letters by three (a, b -> d, e):
    the page looks the same, its text decodes as gibberish (a broken or scrambling encoding)."""
    letters = [*range(0x41, 0x5B), *range(0x61, 0x7B)]
    shifted = {c: (c - (0x41 if c < 0x61 else 0x61) + 3) % 26 + (0x41 if c < 0x61 else 0x61) for c in letters}
    entries = b"\n".join(b"<%02X> <%04X>" % (c, shifted[c]) for c in letters)
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Scrambled def "
        b"1 begincodespacerange <00> <FF> endcodespacerange %d beginbfchar\n%s\nendbfchar endcmap "
        b"CMapName currentdict /CMap defineresource pop end end" % (len(letters), entries)
    )
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            for font in page.resources.Font.values():
                font.ToUnicode = pdf.make_stream(cmap)
        pdf.save(path)
    return path


def make_hostile(path: Path, field_value: str) -> Path:
    """Add to the PDF at ``path``: an OpenAction and a document-level JavaScript, an embedded
    file, a launch action, a URI link, a page additional action and a filled-in form field
    whose value shows on the page (a widget with an appearance stream)."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        js = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        )
        pdf.Root.OpenAction = js
        pdf.Root.Names = pikepdf.Dictionary(
            JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("x"), js]))
        )
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not really a program")
        page = pdf.pages[0]
        launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
        uri = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("http://example.invalid/"))
        font = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        appearance = pdf.make_stream(
            b"BT /Helv 12 Tf 2 6 Td (" + field_value.encode() + b") Tj ET",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 200, 20],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font)),
        )
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Tx,
                T=pikepdf.String("mrn"),
                V=pikepdf.String(field_value),
                Rect=[300, 60, 500, 80],
                F=4,
                AP=pikepdf.Dictionary(N=appearance),
                AA=pikepdf.Dictionary(K=js),
                P=page.obj,
            )
        )
        annots = [
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[72, 700, 200, 720], A=a
            )
            for a in (launch, uri)
        ]
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([*(pdf.make_indirect(a) for a in annots), widget]))
        page.obj.AA = pikepdf.Dictionary(O=js)
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]), NeedAppearances=False)
        pdf.save(path)
    return path


ACTIVE_NAMES = ("/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/AcroForm",
                "/OpenAction", "/AA", "/URI", "/Annots", "/Widget", "/Names")  # fmt: skip


def active_names_in(path: Path) -> set[str]:
    """Which of :data:`ACTIVE_NAMES` occur anywhere in the PDF (keys or name values), every
    object reached from the trailer and every object stored in the file."""
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()

    def visit(obj: object) -> None:
        if isinstance(obj, pikepdf.Name):
            found.update(n for n in ACTIVE_NAMES if obj == n)
            return
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array):
            return
        if obj.is_indirect:
            if obj.objgen in seen:
                return
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Array):
            for item in obj:
                visit(item)
            return
        for key in obj.keys():  # noqa: SIM118 - a Stream iterates its data, not its keys
            found.update(n for n in ACTIVE_NAMES if key == n)
            visit(obj.get(key))

    with pikepdf.open(path) as pdf:
        visit(pdf.trailer)
        for obj in pdf.objects:
            visit(obj)
    return found


def _pil(picture: GrayImage) -> Image.Image:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=85)
    buffer.seek(0)
    return Image.open(buffer)
