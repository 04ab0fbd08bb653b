"""Straightening and reading pages: resolution, orientation, deskew, tesseract."""

from chartclerk.ocr.models import OcrResult, Orientation, SkewEstimate, Word
from chartclerk.ocr.prepare import StraightPage, normalize_resolution, straighten_page
from chartclerk.ocr.reading import ReadPage, ocr_page

__all__ = [
    "OcrResult",
    "Orientation",
    "ReadPage",
    "SkewEstimate",
    "StraightPage",
    "Word",
    "normalize_resolution",
    "ocr_page",
    "straighten_page",
]
