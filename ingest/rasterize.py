"""A PDF page as pixels: a scanned page's own image when it is nothing else
(``pdfimage.py``), otherwise rendered by poppler. The only module that renders with poppler
(pdftoppm, through pdf2image); ``pdftext.py`` is the only one that reads text with it."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pdf2image
from pdf2image import exceptions as pdf_errors

from chartclerk.errors import InputFileError, MissingDependencyError
from chartclerk.ingest.models import GrayImage
from chartclerk.ingest.pdfimage import scanned_page_image, scanned_page_pixels
from chartclerk.settings import IngestSettings

log = logging.getLogger(__name__)


def rasterize_pdf_page(path: Path, number: int, settings: IngestSettings) -> GrayImage:
    """Page ``number`` (1-based) of a PDF as 8-bit gray at ``settings.dpi``."""
    scanned = scanned_page_image(path, number, settings.dpi, settings.max_page_pixels)
    if scanned is not None:
        return scanned
    return render_pdf_page(path, number, settings)


def archived_page_image(
    path: Path, number: int, settings: IngestSettings, max_dpi: int = 300
) -> tuple[GrayImage, float]:
    """Page ``number`` of one of the archive's own searchable PDFs, for looking at its ink (the
    deficiency analysis), and its resolution: a scanned page's picture taken from under its
    invisible OCR text in its own pixels (shrunk by area only when finer than ``max_dpi``),
    without starting poppler (three processes a page were most of the analysis's time) and
    without resampling, which greys faint pencil strokes; a digital page rendered at
    ``settings.dpi``."""
    scanned = scanned_page_pixels(path, number, settings.max_page_pixels)
    if scanned is None:
        return render_pdf_page(path, number, settings), float(settings.dpi)
    gray, dpi = scanned
    if dpi <= max_dpi:
        return gray, dpi
    height, width = gray.shape
    size = (max(1, round(width * max_dpi / dpi)), max(1, round(height * max_dpi / dpi)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8), float(max_dpi)


def render_pdf_page(path: Path, number: int, settings: IngestSettings) -> GrayImage:
    """Page ``number`` rendered by poppler's pdftoppm."""
    try:
        images = pdf2image.convert_from_path(
            path,
            dpi=settings.dpi,
            first_page=number,
            last_page=number,
            grayscale=True,
            timeout=settings.rasterize_timeout_seconds,
        )
    except pdf_errors.PDFInfoNotInstalledError as e:
        raise MissingDependencyError("poppler-utils (pdftoppm, pdfinfo) is not installed") from e
    except pdf_errors.PDFPopplerTimeoutError as e:
        raise InputFileError(
            f"rasterizing page {number} took over {settings.rasterize_timeout_seconds} s"
        ) from e
    except (pdf_errors.PDFPageCountError, pdf_errors.PDFSyntaxError) as e:
        raise InputFileError(f"corrupt PDF: page {number} cannot be rasterized") from e
    if not images:
        raise InputFileError(f"corrupt PDF: page {number} rendered no image")
    with images[0] as img:
        gray = img.convert("L") if img.mode != "L" else img
        return np.asarray(gray, dtype=np.uint8).copy()
