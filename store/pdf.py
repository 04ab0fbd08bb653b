"""Searchable PDFs. The only module that writes PDF files.

A page PDF (made by an OCR worker with :func:`make_page_pdf`) shows the page image,
JPEG-encoded, at its physical size, with tesseract's text-only PDF page laid over it:
the text is drawn invisibly (render mode 3), so viewers show the scan while
``pdftotext`` and viewers' search find the words where they are on the image.
A born-digital page is kept as it is instead (:func:`keep_pdf_page`: its own vectors,
fonts and pictures, made inert). :func:`assemble_pdf` joins page PDFs of both kinds into
a document's PDF and labels it.
Every file is written to a temporary name in its folder, fsynced and renamed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chartclerk.errors import ArchiveError
from chartclerk.files import fsync_dir, sha256_file

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pikepdf
    from pikepdf import Name

# OpenCV, numpy and pikepdf are imported inside the functions that use them: `chartclerk
# search` and `list` import this package and must start fast.

log = logging.getLogger(__name__)

CREATOR = "chartclerk"


@dataclass(frozen=True, slots=True)
class PdfMetadata:
    """What a document PDF says about itself (document info and XMP)."""

    title: str
    doc_type: str  # written as the subject
    loinc: str | None
    patient_mrn: str | None
    source_name: str  # original file name, no folder
    source_pages: tuple[int, int]  # first, last (1-based, inclusive)

    @property
    def keywords(self) -> str:
        parts = [self.doc_type]
        if self.loinc:
            parts.append(f"LOINC {self.loinc}")
        if self.patient_mrn:
            parts.append(f"MRN {self.patient_mrn}")
        first, last = self.source_pages
        parts.append(f"source {self.source_name} pages {first}-{last}")
        return "; ".join(parts)


def make_page_pdf(
    image: npt.NDArray[np.uint8],
    dpi: float,
    text_layer_pdf: bytes,
    jpeg_quality: int = 80,
    layer_region: tuple[int, int, int, int] | None = None,
) -> bytes:
    """A one-page PDF showing ``image`` at ``dpi`` with ``text_layer_pdf``'s page as invisible text.

    ``image`` is 8-bit grayscale (H x W) or OpenCV BGR (H x W x 3; BGRA is flattened).
    ``text_layer_pdf`` is tesseract's ``-c textonly_pdf=1`` output for an image of the
    same pixel size and resolution; it is scaled onto the page, or onto ``layer_region``
    (left, top, right, bottom in pixels) when only that part of the image was read. Empty
    bytes give a page without text (e.g. a blank page).
    """
    import cv2
    import pikepdf
    from pikepdf import Name

    if dpi <= 0:
        raise ArchiveError(f"page image resolution must be positive, got {dpi}")
    pixels, colorspace = _normalize_image(image)
    height_px, width_px = pixels.shape[:2]
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise ArchiveError("cannot JPEG-encode a page image")
    width_pt = width_px * 72.0 / dpi
    height_pt = height_px * 72.0 / dpi

    with contextlib.ExitStack() as stack:
        pdf = stack.enter_context(pikepdf.new())
        pdf.add_blank_page(page_size=(width_pt, height_pt))
        page = pdf.pages[0]
        xobject = pikepdf.Stream(pdf, encoded.tobytes())
        xobject.Type = Name.XObject
        xobject.Subtype = Name.Image
        xobject.Width = width_px
        xobject.Height = height_px
        xobject.ColorSpace = colorspace
        xobject.BitsPerComponent = 8
        xobject.Filter = Name.DCTDecode
        image_name = page.add_resource(xobject, Name.XObject, prefix="Im")
        draw = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm {image_name} Do Q\n".encode("ascii")
        page.obj.Contents = pdf.make_stream(draw)
        out = io.BytesIO()
        try:
            if text_layer_pdf:
                text_pdf = stack.enter_context(pikepdf.open(io.BytesIO(text_layer_pdf)))
                if len(text_pdf.pages) != 1:
                    raise ArchiveError(f"text layer PDF has {len(text_pdf.pages)} pages, expected 1")
                page.add_overlay(text_pdf.pages[0], _region_rect(layer_region, width_pt, height_pt, dpi))
            pdf.save(out)
        except pikepdf.PdfError as e:
            raise ArchiveError(f"text layer is not a readable PDF: {one_line(e)}") from e
    return out.getvalue()


# What a kept page may hold: its drawing and its boxes. Everything else (annotations: links,
# launch and JavaScript actions, form widgets, attached files; additional actions; thumbnails,
# structure and piece info) stays in the original only.
_PAGE_KEYS = frozenset(
    {"/Type", "/Parent", "/Resources", "/Contents", "/MediaBox", "/CropBox", "/BleedBox", "/TrimBox",
     "/ArtBox", "/Rotate", "/Group", "/UserUnit"}
)  # fmt: skip
# Keys that start an action, a script or an attached file, wherever they are met below the page.
_ACTIVE_KEYS = frozenset({"/A", "/AA", "/JS", "/JavaScript", "/OpenAction", "/EF", "/EmbeddedFiles", "/URI"})


def keep_pdf_page(source: Path, number: int, rotate: int) -> bytes:
    """Page ``number`` (1-based) of the PDF at ``source`` as a one-page PDF: its own drawing
    (vectors, fonts, pictures), shown turned by ``rotate`` (its new /Rotate), made inert.

    The appearance of each annotation a viewer would show (a filled-in form field, a stamp)
    is drawn into the page, then every annotation is removed, and with them links, launch
    and JavaScript actions, form fields and attached files; nothing of the document around
    the page (its catalog: OpenAction, AcroForm, names, embedded files) is copied. The
    original file keeps all of it, byte for byte."""
    import pikepdf
    from pikepdf import Name

    try:
        with pikepdf.open(source) as src, pikepdf.new() as pdf:
            pdf.pages.append(src.pages[number - 1])
            page = pdf.pages[0]
            _draw_annotations(pdf, page)
            for key in set(page.obj.keys()) - _PAGE_KEYS:
                del page.obj[key]
            page.obj[Name.Rotate] = rotate % 360
            _make_inert(page.obj, set(), 0)
            out = io.BytesIO()
            pdf.save(out, compress_streams=True)
    except (pikepdf.PdfError, ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        raise ArchiveError(f"page {number} cannot be copied: {one_line(e)}") from e
    return out.getvalue()


def turned_page_pdf(page_pdf: Path, degrees: float) -> bytes:
    """A copy of the one-page PDF ``page_pdf`` with its drawing turned ``degrees``
    counter-clockwise about the middle of its media box: a page whose text runs a few
    degrees off level, made level to read its text (poppler splits tilted words when it
    keeps the drawing order). Not archived: the kept page is never changed."""
    import math

    import pikepdf

    try:
        with pikepdf.open(page_pdf) as pdf:
            page = pdf.pages[0]
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
            turn = (c, s, -s, c, cx - c * cx + s * cy, cy - s * cx - c * cy)
            page.contents_add(pdf.make_stream(b"q %.6f %.6f %.6f %.6f %.4f %.4f cm\n" % turn), prepend=True)
            page.contents_add(pdf.make_stream(b"\nQ\n"))
            out = io.BytesIO()
            pdf.save(out)
    except (OSError, pikepdf.PdfError, ValueError, IndexError) as e:
        raise ArchiveError(f"cannot turn a page: {one_line(e)}") from e
    return out.getvalue()


def _draw_annotations(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """Draw each shown annotation's normal appearance into the page's content (as qpdf's
    annotation flattening does), so that a form's filled-in values stay on the page."""
    import pikepdf
    from pikepdf import Name

    annots = page.obj.get(Name.Annots)
    if not isinstance(annots, pikepdf.Array):
        return
    drawn = []
    hidden = int(
        pikepdf.AnnotationFlag.invisible | pikepdf.AnnotationFlag.hidden | pikepdf.AnnotationFlag.no_view
    )
    for annot in annots:
        if not isinstance(annot, pikepdf.Dictionary) or annot.get(Name.Subtype) == Name.Popup:
            continue
        annotation = pikepdf.Annotation(annot)
        appearance = annotation.get_appearance_stream(Name.N)
        if not isinstance(appearance, pikepdf.Stream):
            continue
        name = page.add_resource(appearance, Name.XObject, prefix="Fx")
        drawn.append(annotation.get_page_content_for_appearance(name, 0, forbidden_flags=hidden))
    if any(drawn):  # the page's own drawing in q/Q, so that the appearances start from a clean state
        page.contents_add(pdf.make_stream(b"q\n"), prepend=True)
        page.contents_add(pdf.make_stream(b"\nQ\nq\n" + b"".join(drawn) + b"\nQ\n"), prepend=False)


def _make_inert(obj: object, seen: set[tuple[int, int]], depth: int) -> None:
    """Remove action, script and attached-file keys from every dictionary below ``obj``."""
    import pikepdf

    if depth > 64 or not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array):
        return
    if obj.is_indirect:
        if obj.objgen in seen:
            return
        seen.add(obj.objgen)
    if isinstance(obj, pikepdf.Array):
        for item in obj:
            _make_inert(item, seen, depth + 1)
        return
    for key in list(obj.keys()):
        if key in _ACTIVE_KEYS or (key == "/S" and str(obj.get(key)) in _ACTION_TYPES):
            del obj[key]
        elif key != "/Parent":
            _make_inert(obj.get(key), seen, depth + 1)


_ACTION_TYPES = frozenset(
    {"/JavaScript", "/Launch", "/URI", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/Rendition"}
)


# Pages joined per qpdf job. A long document is joined in parts of this many pages, each with
# its text layers' fonts shared, and then the parts are joined: qpdf holds every page's objects
# until it has written the file, and a page read from a part has 4 objects instead of 10.
JOIN_PART_PAGES = 100


def assemble_pdf(page_pdfs: Sequence[Path], out: Path, metadata: PdfMetadata) -> str:
    """Join the one-page PDFs into ``out`` (written atomically), labelled with ``metadata``.

    Returns the sha256 of the written file. Memory does not grow with the page images: qpdf's
    page assembly (a ``--empty --pages`` job, run in-process) copies each part's image and
    text data from its file while writing, and keeps no part open between reads
    (``keepFilesOpen: n``), so a 10,000-page document needs no file descriptor per page.
    (``Pdf.pages.extend`` would read every part's stream data into memory first: about
    450 MB for a 1,000-page scan.) Only objects are held: about 50 kB a page when page
    PDFs are joined directly, each with its own copy of tesseract's text-layer font. So a
    document longer than ``JOIN_PART_PAGES`` is first joined in parts, each keeping one
    copy of each distinct font, and the parts are then joined into ``out``."""
    if not page_pdfs:
        raise ArchiveError(f"{out.name}: no pages to assemble")
    if len(page_pdfs) <= JOIN_PART_PAGES:
        return _write_document(page_pdfs, out, metadata)
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.parts-") as tmp:
        parts = []
        for start in range(0, len(page_pdfs), JOIN_PART_PAGES):
            parts.append(Path(tmp) / f"{start // JOIN_PART_PAGES:06d}.pdf")
            with joined_pdf(page_pdfs[start : start + JOIN_PART_PAGES], parts[-1]) as pdf:
                _share_fonts(pdf)
                _save(pdf, parts[-1])
        return _write_document(parts, out, metadata)


def _write_document(sources: Sequence[Path], out: Path, metadata: PdfMetadata) -> str:
    """Join ``sources`` (page PDFs or parts) into ``out`` with one copy of each font, label it
    and write it atomically. Returns its sha256."""
    with joined_pdf(sources, out) as pdf:
        _share_fonts(pdf)
        _set_metadata(pdf, metadata)
        return save_pdf_atomically(pdf, out)


@contextlib.contextmanager
def joined_pdf(page_pdfs: Sequence[Path], out: Path) -> Iterator[pikepdf.Pdf]:
    """The pages of ``page_pdfs`` as one new PDF, their data read from the files as it is
    written (the job owns the parts: it must outlive the PDF until it is saved)."""
    import pikepdf

    spec = {
        "empty": "",
        "keepFilesOpen": "n",
        "noWarn": "",  # a part qpdf had to repair is taken silently, as pikepdf.open does
        "pages": [{"file": os.fspath(path)} for path in page_pdfs],
        "outputFile": os.fspath(out),  # required by qpdf; create_pdf() writes nothing
    }
    try:
        job = pikepdf.Job(spec)
        pdf = job.create_pdf()
    except (OSError, pikepdf.PdfError, pikepdf.JobUsageError) as e:
        raise ArchiveError(f"cannot read page PDFs: {one_line(_without_folders(e, page_pdfs))}") from e
    with pdf:
        yield pdf


def _share_fonts(pdf: pikepdf.Pdf) -> None:
    """Point every page (and every form on it, where a text layer lives) at one copy of each
    distinct font; the copies left unused are not written. Tesseract embeds the same
    GlyphLessFont, six objects, in each page's text layer. Fonts are the same only when
    every dictionary entry and every stream's bytes are."""
    import pikepdf
    from pikepdf import Name

    kept: dict[bytes, pikepdf.Object] = {}
    keys: dict[tuple[int, int], bytes | None] = {}  # font object -> fingerprint, each computed once
    for page in pdf.pages:
        resources = [page.obj.get(Name.Resources)]
        xobjects = resources[0].get(Name.XObject) if isinstance(resources[0], pikepdf.Dictionary) else None
        if isinstance(xobjects, pikepdf.Dictionary):
            resources += [
                x.get(Name.Resources) for x in xobjects.values() if x.get(Name.Subtype) == Name.Form
            ]
        for res in resources:
            fonts = res.get(Name.Font) if isinstance(res, pikepdf.Dictionary) else None
            if not isinstance(fonts, pikepdf.Dictionary):
                continue
            for name, font in list(fonts.items()):
                if not font.is_indirect:
                    continue
                if font.objgen not in keys:
                    keys[font.objgen] = _fingerprint(font)
                if (key := keys[font.objgen]) is None:
                    continue
                first = kept.setdefault(key, font)
                if first.objgen != font.objgen:
                    fonts[name] = first


def _fingerprint(obj: pikepdf.Object, depth: int = 0) -> bytes | None:
    """A digest of ``obj`` and everything it refers to (stream data as stored); None when
    it nests too deep to be a font (then it is never shared)."""
    import pikepdf

    if depth > 8:
        return None
    digest = hashlib.sha256()
    if isinstance(obj, pikepdf.Stream):
        digest.update(b"S" + hashlib.sha256(obj.read_raw_bytes()).digest())
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        for key in sorted(obj.keys()):
            if (inner := _fingerprint(obj[key], depth + 1)) is None:
                return None
            digest.update(b"K" + key.encode() + inner)
    elif isinstance(obj, pikepdf.Array):
        for item in obj:
            if (inner := _fingerprint(item, depth + 1)) is None:
                return None
            digest.update(b"I" + inner)
    else:
        digest.update(b"V" + repr(obj).encode())
    return digest.digest()


def _region_rect(
    region: tuple[int, int, int, int] | None, width_pt: float, height_pt: float, dpi: float
) -> pikepdf.Rectangle:
    """The page rectangle, in PDF points (origin bottom left), of a pixel region (origin top left)."""
    import pikepdf

    if region is None:
        return pikepdf.Rectangle(0, 0, width_pt, height_pt)
    left, top, right, bottom = (v * 72.0 / dpi for v in region)
    return pikepdf.Rectangle(left, height_pt - bottom, right, height_pt - top)


def write_image_pdf(image: npt.NDArray[np.uint8], dpi: float, out: Path, title: str) -> str:
    """A one-page PDF of ``image`` (no text layer, e.g. a cover sheet to print), written atomically
    to ``out`` with ``title``. Returns the sha256 of the written file."""
    import pikepdf
    from pikepdf import Name

    try:
        with pikepdf.open(io.BytesIO(make_page_pdf(image, dpi, b"", jpeg_quality=95))) as pdf:
            pdf.docinfo[Name.Title] = title
            pdf.docinfo[Name.Creator] = CREATOR
            return save_pdf_atomically(pdf, out)
    except pikepdf.PdfError as e:
        raise ArchiveError(f"cannot write {out.name}: {one_line(e)}") from e


def update_pdf_metadata(path: Path, metadata: PdfMetadata) -> str:
    """Rewrite ``path``'s document info and XMP metadata (atomically). Returns the new sha256."""
    import pikepdf

    try:
        data = path.read_bytes()
    except OSError as e:
        raise ArchiveError(f"cannot read {path.name}: {one_line(e)}") from e
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            _set_metadata(pdf, metadata)
            return save_pdf_atomically(pdf, path)
    except pikepdf.PdfError as e:
        raise ArchiveError(f"cannot rewrite {path.name}: {one_line(e)}") from e


def read_pdf_metadata(path: Path) -> dict[str, str]:
    """The document info dictionary of ``path`` as plain strings (keys without the slash)."""
    import pikepdf

    with pikepdf.open(path) as pdf:
        return {str(k).lstrip("/"): str(v) for k, v in pdf.docinfo.items()}


def _normalize_image(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], Name]:
    import cv2
    import numpy as np
    from pikepdf import Name

    if image.dtype != np.uint8:
        raise ArchiveError(f"page image must be 8-bit, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        pixels, colorspace = image, Name.DeviceGray
    elif image.ndim == 3 and image.shape[2] == 3:
        pixels, colorspace = image, Name.DeviceRGB
    elif image.ndim == 3 and image.shape[2] == 4:
        pixels = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
        colorspace = Name.DeviceRGB
    else:
        raise ArchiveError(f"page image must be gray or BGR, got shape {image.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ArchiveError("page image is empty")
    return np.ascontiguousarray(pixels), colorspace


def _set_metadata(pdf: pikepdf.Pdf, metadata: PdfMetadata) -> None:
    from pikepdf import Name

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        # pikepdf mirrors these into the document info dictionary (Title, Subject, Keywords, Creator).
        xmp["dc:title"] = metadata.title
        xmp["dc:description"] = metadata.doc_type
        xmp["pdf:Keywords"] = metadata.keywords
        xmp["xmp:CreatorTool"] = CREATOR
        xmp["xmp:ModifyDate"] = now.isoformat()
        if "xmp:CreateDate" not in xmp:
            xmp["xmp:CreateDate"] = now.isoformat()
    info = pdf.docinfo
    info[Name.Title] = metadata.title
    info[Name.Subject] = metadata.doc_type
    info[Name.Keywords] = metadata.keywords
    info[Name.Creator] = CREATOR


def _save(pdf: pikepdf.Pdf, out: Path) -> None:
    """Write a scratch file (no fsync: it is joined and removed before anything relies on it)."""
    import pikepdf

    try:
        pdf.save(out)
    except (OSError, pikepdf.PdfError) as e:
        raise ArchiveError(f"cannot write {out.name}: {one_line(e)}") from e


def save_pdf_atomically(pdf: pikepdf.Pdf, out: Path) -> str:
    import pikepdf

    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")  # mode 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            pdf.save(f)
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        tmp.replace(out)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError | pikepdf.PdfError):
            raise ArchiveError(f"cannot write {out.name}: {one_line(e)}") from e
        raise
    fsync_dir(out.parent)
    log.debug("wrote %s sha256=%s", out.name, digest)
    return digest


def _without_folders(e: BaseException, paths: Sequence[Path]) -> str:
    """``e``'s message naming the files without their folders."""
    message = str(e)
    for folder in {os.fspath(path.parent) for path in paths}:
        message = message.replace(folder + os.sep, "")
    return message


def one_line(e: BaseException | str) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
