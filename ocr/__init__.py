"""Straightening and reading pages: resolution, orientation, deskew, tesseract."""

from chartclerk.ocr.models import OcrResult, Orientation, SkewEstimate, Word
from chartclerk.ocr.prepare import StraightPage, normalize_resolution, straighten_page
from chartclerk.ocr.reading import ReadPage, check_orientation, ocr_page, read_page

__all__ = [
    "OcrResult",
    "Orientation",
    "ReadPage",
    "SkewEstimate",
    "StraightPage",
    "Word",
    "check_orientation",
    "normalize_resolution",
    "ocr_page",
    "read_page",
    "straighten_page",
]
