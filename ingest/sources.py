"""Recognize scan files and read their pages one at a time."""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError

from chartclerk.errors import InputFileError
from chartclerk.files import sha256_file
from chartclerk.ingest.models import GrayImage, PageImage, SourceFile, SourceKind
from chartclerk.settings import IngestSettings

log = logging.getLogger(__name__)

_MAGIC: tuple[tuple[bytes, SourceKind], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_KNOWN_OTHERS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP or Office document"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"RIFF", "a RIFF (WebP/AVI/WAV) file"),
)


def sniff_kind(head: bytes) -> SourceKind:
    """The scan type from the first bytes; the file name's extension is not trusted."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    for magic, what in _KNOWN_OTHERS:
        if head.startswith(magic):
            raise InputFileError(f"not a scan: {what} (expected PDF, TIFF, PNG or JPEG)")
    if head[:512].isascii():
        raise InputFileError("not a scan: a text file (expected PDF, TIFF, PNG or JPEG)")
    raise InputFileError("not a scan: unknown file type (expected PDF, TIFF, PNG or JPEG)")


def inspect_source(path: Path, settings: IngestSettings) -> SourceFile:
    """Check that ``path`` is a readable scan and count its pages. Reads the file,
    never changes it. Raises InputFileError with a one-line reason."""
    try:
        st = path.lstat()
    except OSError as e:
        raise InputFileError(f"cannot read file: {e.strerror}") from e
    if stat.S_ISLNK(st.st_mode):
        raise InputFileError("a symbolic link: links are never followed (copy the file itself)")
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError("a folder, not a scan file")
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError("not a regular file (a device, pipe or socket)")
    if st.st_size == 0:
        raise InputFileError("empty file (0 bytes)")
    try:
        with path.open("rb") as f:
            head = f.read(1024)
        digest = sha256_file(path)
    except OSError as e:
        raise InputFileError(f"cannot read file: {e.strerror}") from e
    kind = sniff_kind(head)
    pages = _count_pdf_pages(path, settings) if kind == "pdf" else _count_image_pages(path, settings)
    if pages > settings.max_pages:
        raise InputFileError(f"too many pages: {pages} (limit ingest.max_pages = {settings.max_pages})")
    return SourceFile(
        path=path, name=display_name(path.name), sha256=digest, size=st.st_size, kind=kind, page_count=pages
    )


def display_name(name: str) -> str:
    """A file name as text any database, PDF and terminal accept: bytes that are not UTF-8
    become U+FFFD and control characters '?'. (The file itself is read by its real name.)"""
    text = os.fsencode(name).decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in text)


def _count_pdf_pages(path: Path, settings: IngestSettings) -> int:
    try:
        with pikepdf.open(path) as pdf:
            count = len(pdf.pages)
            if count > settings.max_pages:  # before touching every page of a 10,000-page file
                raise InputFileError(
                    f"too many pages: {count} (limit ingest.max_pages = {settings.max_pages})"
                )
            for number, page in enumerate(pdf.pages, start=1):
                box = page.mediabox
                width_in = abs(float(box[2]) - float(box[0])) / 72
                height_in = abs(float(box[3]) - float(box[1])) / 72
                if width_in * height_in * settings.dpi**2 > settings.max_page_pixels:
                    raise InputFileError(
                        f"page {number} too large: {width_in:.0f} x {height_in:.0f} in "
                        f"at {settings.dpi} dpi exceeds ingest.max_page_pixels"
                    )
    except pikepdf.PasswordError as e:
        raise InputFileError("encrypted PDF: a password is needed to open it") from e
    except pikepdf.PdfError as e:
        raise InputFileError(f"corrupt PDF: {_first_line(_without_path(str(e), path))}") from e
    except (ValueError, IndexError, TypeError) as e:
        raise InputFileError(f"corrupt PDF: bad page box ({type(e).__name__})") from e
    if count == 0:
        raise InputFileError("PDF has no pages")
    return count


def _open_image(path: Path, settings: IngestSettings) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = settings.max_page_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputFileError("image too large (decompression bomb guard: ingest.max_page_pixels)") from e
    except UnidentifiedImageError as e:
        raise InputFileError("corrupt image: cannot identify image data") from e
    except OSError as e:
        raise InputFileError(f"corrupt image: {_first_line(_without_path(str(e), path))}") from e
    return img


def _check_size(img: Image.Image, settings: IngestSettings, number: int) -> None:
    width, height = img.size
    if width * height > settings.max_page_pixels:
        raise InputFileError(
            f"page {number} too large: {width} x {height} pixels exceeds ingest.max_page_pixels"
        )
    if width < 16 or height < 16:
        raise InputFileError(f"page {number} too small to be a scan: {width} x {height} pixels")


def _count_image_pages(path: Path, settings: IngestSettings) -> int:
    with _open_image(path, settings) as img:
        count = int(getattr(img, "n_frames", 1))
        for number in range(1, count + 1):
            img.seek(number - 1)
            _check_size(img, settings, number)
    return count


def load_page(source: SourceFile, number: int, settings: IngestSettings) -> PageImage:
    """Read page ``number`` (1-based) of a source as 8-bit grayscale, alone:
    a 500-page PDF is never held whole in memory."""
    if not 1 <= number <= source.page_count:
        raise InputFileError(f"page {number} out of range 1..{source.page_count}")
    if source.kind == "pdf":
        from chartclerk.ingest.rasterize import rasterize_pdf_page

        return PageImage(
            number=number, image=rasterize_pdf_page(source.path, number, settings), dpi=settings.dpi
        )
    with _open_image(source.path, settings) as img:
        try:
            img.seek(number - 1)
            _check_size(img, settings, number)
            dpi = _image_dpi(img)
            gray = _to_gray(img)
        except (OSError, ValueError, SyntaxError) as e:
            raise InputFileError(f"corrupt image: {_first_line(_without_path(str(e), source.path))}") from e
    return PageImage(number=number, image=gray, dpi=dpi)


def _image_dpi(img: Image.Image) -> float | None:
    dpi = img.info.get("dpi")
    if not dpi:
        return None
    try:
        value = float(dpi[0])
    except (TypeError, ValueError, IndexError):
        return None
    # Many writers store 1 or 72 when the resolution is unknown.
    return value if value >= 75 else None


def _to_gray(img: Image.Image) -> GrayImage:
    img.load()
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(img, dtype=np.float64)
        top = float(wide.max()) or 1.0
        return np.asarray(np.clip(wide * (255.0 / top), 0, 255), dtype=np.uint8)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode == "CMYK":
        img = img.convert("RGB")
    if img.mode != "L":
        img = ImageOps.grayscale(img) if img.mode != "1" else img.convert("L")
    return np.asarray(img, dtype=np.uint8).copy()


def _without_path(message: str, path: Path) -> str:
    """A library's message without the file's path or name (names may hold PHI)."""
    for shown in (str(path), path.name):
        message = message.replace(f"{shown}: ", "").replace(shown, "the file")
    return message


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unreadable"
    return line[:200]
