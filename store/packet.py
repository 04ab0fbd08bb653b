"""Release packets: a cover letter and every released document, each page stamped in a margin.

A sibling of chartclerk.store.pdf (the package's PDF writers live in these two modules). The
packet is assembled with pikepdf, page by page: each document PDF is opened and its pages are
appended to the packet as they are (scan image, invisible text layer: the text stays
searchable); nothing is rasterized or re-encoded. Each page's MediaBox is then enlarged by a
strip on the edge that is at the bottom when the page is shown (``/Rotate`` honoured) and the
stamp (MRN, request number, "page x of N", CONFIDENTIAL) is drawn in that strip only, so it
never covers the scan. The page's own content is wrapped in q/Q so its graphics state cannot
leak into the stamp. qpdf reads the pages' streams from the document files when the packet is
written (a qpdf page-assembly job, as chartclerk.store.pdf joins document pages), so memory
does not grow with the page images.

The cover letter is drawn with the standard Helvetica font (no embedding), text that
``pdftotext`` and viewers find.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chartclerk.errors import ArchiveError
from chartclerk.store.pdf import CREATOR, joined_pdf, one_line, save_pdf_atomically

if TYPE_CHECKING:
    import pikepdf

log = logging.getLogger(__name__)

MARGIN_PT = 36.0  # the stamp strip added to each page (half an inch)
STAMP_SIZE = 8.0
_LETTER = (612.0, 792.0)
_LEADING = 14.0
_TOP = 740.0
_BOTTOM = 60.0
_LINES_PER_PAGE = int((_TOP - _BOTTOM) // _LEADING)
_WRAP = 90


@dataclass(frozen=True, slots=True)
class PacketDocument:
    """A document going into a packet."""

    id: int
    doc_type: str
    date: dt.date
    pages: int
    pdf: Path


@dataclass(frozen=True, slots=True)
class CoverLetter:
    office: str
    office_address: str
    request_id: int
    date: dt.date
    requester: str
    requester_address: str
    patient_name: str
    patient_mrn: str
    patient_dob: dt.date
    purpose: str
    basis: str
    documents: tuple[PacketDocument, ...]
    withheld: tuple[str, ...]  # one line per document left out, and why


@dataclass(frozen=True, slots=True)
class PacketResult:
    sha256: str
    pages: int
    cover_pages: int


def cover_lines(cover: CoverLetter) -> list[tuple[bool, str]]:
    """The cover letter as (bold, text) lines, wrapped."""
    lines: list[tuple[bool, str]] = [(True, cover.office)]
    lines += [(False, part.strip()) for part in cover.office_address.split(",") if part.strip()]
    lines += [
        (False, ""),
        (True, f"RELEASE OF INFORMATION - REQUEST {cover.request_id}"),
        (False, f"Date: {cover.date.isoformat()}"),
        (False, ""),
        (False, f"To: {cover.requester}"),
    ]
    lines += [(False, "    " + part.strip()) for part in cover.requester_address.split(",") if part.strip()]
    lines += [
        (False, ""),
        (
            False,
            f"Patient: {cover.patient_name}   MRN: {cover.patient_mrn}   Date of birth: {cover.patient_dob}",
        ),
    ]
    lines += [(False, w) for w in textwrap.wrap(f"Purpose: {cover.purpose} (basis: {cover.basis})", _WRAP)]
    total = sum(d.pages for d in cover.documents)
    lines += [
        (False, ""),
        (True, f"Documents enclosed: {len(cover.documents)} ({total} pages)"),
        (False, "   #   Document    Type                          Date          Pages"),
    ]
    for n, d in enumerate(cover.documents, 1):
        lines.append(
            (False, f"{n:>4}   {d.id:<10}  {d.doc_type[:28]:<28}  {d.date.isoformat()}  {d.pages:>5}")
        )
    lines += [(False, ""), (True, "Withheld from this release:")]
    if cover.withheld:
        for item in cover.withheld:
            lines += [
                (False, w)
                for w in textwrap.wrap(item, _WRAP, initial_indent="  - ", subsequent_indent="    ")
            ]
    else:
        lines.append((False, "  nothing"))
    notice = (
        "CONFIDENTIAL: this packet contains protected health information disclosed under 45 CFR "
        "Part 164. Redisclosure may be prohibited by federal or state law (including 42 CFR Part 2). "
        "If you received it in error, notify the office above and destroy it."
    )
    lines += [(False, "")] + [(False, w) for w in textwrap.wrap(notice, _WRAP)]
    return lines


def cover_page_count(cover: CoverLetter) -> int:
    return max(1, -(-len(cover_lines(cover)) // _LINES_PER_PAGE))


def write_packet(cover: CoverLetter, out: Path) -> PacketResult:
    """Write the packet to ``out`` atomically; returns its SHA-256 and page count.

    Raises ArchiveError when a document PDF cannot be read or has another page count than
    recorded (the cover letter would then be wrong)."""
    import pikepdf
    from pikepdf import Name

    cover_pages = cover_page_count(cover)
    total = cover_pages + sum(d.pages for d in cover.documents)
    for d in cover.documents:
        _check_pages(d)
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.cover-") as tmp:
        cover_pdf = Path(tmp) / "cover.pdf"
        with pikepdf.new() as pdf:
            _add_cover(pdf, cover, cover_pages, pdf.make_indirect(_font(Name.Helvetica)),
                       pdf.make_indirect(_font(Name("/Helvetica-Bold"))))  # fmt: skip
            pdf.save(cover_pdf)
        # qpdf's page assembly reads each page's streams from its file while writing (flat
        # memory); Pdf.pages.extend would read them all into memory first.
        with joined_pdf([cover_pdf, *(d.pdf for d in cover.documents)], out) as pdf:
            if len(pdf.pages) != total:
                raise ArchiveError(f"packet has {len(pdf.pages)} pages, expected {total}")
            font = pdf.make_indirect(_font(Name.Helvetica))
            for number, page in enumerate(pdf.pages, 1):
                stamp = (
                    f"MRN {cover.patient_mrn}  |  Request {cover.request_id}  |  "
                    f"page {number} of {total}  |  CONFIDENTIAL"
                )
                _stamp_page(pdf, page, stamp, font)
            pdf.docinfo[Name.Title] = f"Release of information, request {cover.request_id}"
            pdf.docinfo[Name.Creator] = CREATOR
            digest = save_pdf_atomically(pdf, out)
    log.info("packet for request %d: %d pages, sha256=%s", cover.request_id, total, digest)
    return PacketResult(sha256=digest, pages=total, cover_pages=cover_pages)


def _check_pages(d: PacketDocument) -> None:
    import pikepdf

    try:
        with pikepdf.open(d.pdf) as src:
            found = len(src.pages)
    except (OSError, pikepdf.PdfError) as e:
        raise ArchiveError(f"document {d.id}: cannot read its PDF: {one_line(e)}") from e
    if found != d.pages:
        raise ArchiveError(f"document {d.id}: its PDF has {found} pages, recorded {d.pages}")


def stamp_box(mediabox: Sequence[float], rotate: int) -> tuple[float, float, float, float]:
    """The strip (x0, y0, x1, y1, user space) added to a page with this MediaBox and /Rotate."""
    x0, y0, x1, y1 = mediabox
    r = rotate % 360
    if r == 90:
        return x1, y0, x1 + MARGIN_PT, y1
    if r == 180:
        return x0, y1, x1, y1 + MARGIN_PT
    if r == 270:
        return x0 - MARGIN_PT, y0, x0, y1
    return x0, y0 - MARGIN_PT, x1, y0


def _stamp_page(pdf: pikepdf.Pdf, page: pikepdf.Page, text: str, font: pikepdf.Object) -> None:
    import pikepdf
    from pikepdf import Name

    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    rotate = int(page.obj.get(Name.Rotate, 0)) % 360
    sx0, sy0, sx1, sy1 = stamp_box((x0, y0, x1, y1), rotate)
    box = pikepdf.Array([min(x0, sx0), min(y0, sy0), max(x1, sx1), max(y1, sy1)])
    page.obj.MediaBox = box
    for key in (Name.CropBox, Name.TrimBox, Name.BleedBox, Name.ArtBox):
        if key in page.obj:
            del page.obj[key]
    # Where the shown page's bottom-left corner of the strip is, and the text direction.
    along = (x1 - x0) if rotate in (0, 180) else (y1 - y0)
    size = min(STAMP_SIZE, max(3.0, (along - 36) / (0.52 * len(text))))
    inset, lift = 18.0, 13.0
    matrix = {
        0: (1, 0, 0, 1, x0 + inset, sy0 + lift),
        90: (0, 1, -1, 0, sx1 - lift, y0 + inset),
        180: (-1, 0, 0, -1, x1 - inset, sy1 - lift),
        270: (0, -1, 1, 0, sx0 + lift, y1 - inset),
    }[rotate if rotate in (0, 90, 180, 270) else 0]
    name = page.add_resource(font, Name.Font, prefix="FStamp")
    tm = " ".join(f"{v:.3f}" for v in matrix)
    stamp = f"Q q 0 g BT {name} {size:.2f} Tf {tm} Tm ({_pdf_string(text)}) Tj ET Q\n".encode("latin-1")
    page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, stamp), prepend=False)


def write_text_pdf(lines: Sequence[tuple[bool, str]], out: Path, title: str) -> str:
    """A letter-size PDF of these (bold, text) lines in Helvetica, written atomically; returns
    its SHA-256 (the accounting of disclosures)."""
    import pikepdf
    from pikepdf import Name

    pages = max(1, -(-len(lines) // _LINES_PER_PAGE))
    try:
        with pikepdf.new() as pdf:
            font = pdf.make_indirect(_font(Name.Helvetica))
            bold = pdf.make_indirect(_font(Name("/Helvetica-Bold")))
            _add_text_pages(pdf, list(lines), pages, font, bold, "Page")
            pdf.docinfo[Name.Title] = title
            pdf.docinfo[Name.Creator] = CREATOR
            return save_pdf_atomically(pdf, out)
    except pikepdf.PdfError as e:
        raise ArchiveError(f"cannot write {out.name}: {one_line(e)}") from e


def _add_cover(
    pdf: pikepdf.Pdf, cover: CoverLetter, pages: int, font: pikepdf.Object, bold: pikepdf.Object
) -> None:
    _add_text_pages(pdf, cover_lines(cover), pages, font, bold, "Cover letter page")


def _add_text_pages(
    pdf: pikepdf.Pdf,
    lines: list[tuple[bool, str]],
    pages: int,
    font: pikepdf.Object,
    bold: pikepdf.Object,
    label: str,
) -> None:
    import pikepdf
    from pikepdf import Name

    for n in range(pages):
        chunk = lines[n * _LINES_PER_PAGE : (n + 1) * _LINES_PER_PAGE]
        ops = ["BT", f"1 0 0 1 72 {_TOP:.1f} Tm", f"{_LEADING:.1f} TL"]
        for is_bold, text in chunk:
            ops.append(f"/{'F2' if is_bold else 'F1'} {11 if is_bold else 10} Tf ({_pdf_string(text)}) Tj T*")
        if pages > 1:
            ops.append(f"/F1 9 Tf 1 0 0 1 72 40 Tm ({label} {n + 1} of {pages}) Tj")
        ops.append("ET")
        pdf.add_blank_page(page_size=_LETTER)
        page = pdf.pages[-1]
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font, F2=bold))
        page.obj.Contents = pdf.make_stream("\n".join(ops).encode("latin-1"))
        page.obj[Name.Rotate] = 0


def _font(base: pikepdf.Name) -> pikepdf.Dictionary:
    import pikepdf
    from pikepdf import Name

    return pikepdf.Dictionary(
        Type=Name.Font, Subtype=Name.Type1, BaseFont=base, Encoding=Name.WinAnsiEncoding
    )


def _pdf_string(text: str) -> str:
    """A PDF literal string body in WinAnsi (characters outside it become '?'), returned as
    latin-1 text so the content stream encodes it byte for byte."""
    raw = " ".join(text.split()).encode("cp1252", errors="replace")
    out = []
    for b in raw:
        c = chr(b)
        if c in "()\\":
            out.append("\\" + c)
        elif b < 32 or b > 126:
            out.append(f"\\{b:03o}")
        else:
            out.append(c)
    return "".join(out)
