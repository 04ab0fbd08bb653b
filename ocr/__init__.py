"""Straightening and reading pages: resolution, orientation, deskew, tesseract."""

from chartclerk.ocr.crosscheck import LayerWord, layer_agreement
from chartclerk.ocr.models import OcrResult, Orientation, SkewEstimate, Word
from chartclerk.ocr.prepare import StraightPage, normalize_resolution, straighten_page
from chartclerk.ocr.reading import ReadPage, check_orientation, ocr_page, read_page

__all__ = [
    "LayerWord",
    "OcrResult",
    "Orientation",
    "ReadPage",
    "SkewEstimate",
    "StraightPage",
    "Word",
    "check_orientation",
    "layer_agreement",
    "normalize_resolution",
    "ocr_page",
    "read_page",
    "straighten_page",
]
