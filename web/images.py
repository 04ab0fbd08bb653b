"""Page images for the viewer and thumbnails: rendered once from the archived searchable PDF,
cached on disk, served with validators.

A page is rendered by ``chartclerk.ingest.rasterize_pdf_page`` (the page's own scan image
when it is the only thing on the page, else poppler's pdftoppm) at the resolution that gives
``page_image_width`` pixels across, scaled to exactly that width and saved as WebP. A
thumbnail is the screen image scaled down, so a thumbnail never runs poppler a second time.
The cache (``<archive>/cache/pages/<pdf sha256[:2]>/``, folders 0700, files 0600) is keyed by
the PDF's SHA-256, which changes when a clerk re-files the document, so a stale image is never
served; the ETag is that key.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pikepdf
from PIL import Image

from chartclerk.errors import ArchiveError, InputFileError
from chartclerk.ingest.rasterize import rasterize_pdf_page
from chartclerk.settings import IngestSettings, WebSettings
from chartclerk.store.models import DocumentFiles

__all__ = ["PageImages", "RenderedImage", "Size"]

log = logging.getLogger(__name__)

Size = Literal["screen", "thumb"]
_QUALITY = {"screen": 82, "thumb": 70}


@dataclass(frozen=True, slots=True)
class RenderedImage:
    path: Path
    etag: str
    mtime: float
    rendered: bool  # True when this request made it (not from the cache)


class PageImages:
    def __init__(self, cache: Path, settings: WebSettings, ingest: IngestSettings) -> None:
        self._cache = cache
        self._settings = settings
        self._ingest = ingest
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def image(self, files: DocumentFiles, number: int, size: Size) -> RenderedImage:
        """The cached image of page ``number`` (1-based) of the document, made if missing."""
        width = self._settings.page_image_width if size == "screen" else self._settings.thumbnail_width
        key = f"{files.pdf_sha256}-{number}-{width}"
        path = self._cache / files.pdf_sha256[:2] / f"{key}.webp"
        rendered = False
        if not path.is_file():
            with self._lock(key):
                if not path.is_file():
                    self._make(files, number, size, path)
                    rendered = True
        stat = path.stat()
        return RenderedImage(path, f'"{key}"', stat.st_mtime, rendered)

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 1024:
                self._locks.clear()  # only guards against two threads rendering one image at once
            return self._locks.setdefault(key, threading.Lock())

    def _make(self, files: DocumentFiles, number: int, size: Size, path: Path) -> None:
        picture: Image.Image
        if size == "thumb":
            screen = self.image(files, number, "screen").path
            with Image.open(screen) as img:
                img.load()
                picture = img
        else:
            picture = self._render(files, number)
        width = self._settings.page_image_width if size == "screen" else self._settings.thumbnail_width
        height = max(1, round(picture.height * width / picture.width))
        scaled = picture.resize((width, height), Image.Resampling.LANCZOS)
        for folder in (self._cache.parent, self._cache, path.parent):  # cache/, cache/pages/, cache/pages/ab/
            _private_dir(folder)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".page.", suffix=".webp")
        try:
            with os.fdopen(fd, "wb") as out:
                scaled.save(out, "WEBP", quality=_QUALITY[size], method=4)
            Path(tmp_name).replace(path)
        except OSError as e:
            raise ArchiveError(f"cannot cache a page image of document {files.id}: {e.strerror or e}") from e
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        log.debug("document %d page %d rendered (%s)", files.id, number, size)

    def _render(self, files: DocumentFiles, number: int) -> Image.Image:
        try:
            with pikepdf.open(files.pdf) as pdf:
                box = pdf.pages[number - 1].mediabox
                inches = max(float(box[2]) - float(box[0]), 1.0) / 72
        except (pikepdf.PdfError, OSError, IndexError) as e:
            raise ArchiveError(f"cannot read the PDF of document {files.id}") from e
        dpi = max(10, min(600, round(self._settings.page_image_width / inches) + 1))
        try:
            gray = rasterize_pdf_page(files.pdf, number, self._ingest.model_copy(update={"dpi": dpi}))
        except InputFileError as e:
            raise ArchiveError(f"cannot render page {number} of document {files.id}: {e.message}") from e
        return Image.fromarray(gray, mode="L")


def _private_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
