"""Data passed in and out of the ocr stages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SkewEstimate:
    """Dominant text-line angle of a page.

    ``angle_degrees`` is in [-45, 45): positive when the content is turned
    counter-clockwise as seen on screen. ``sideways`` is True when the text
    lines run vertically (the page needs a 90 or 270 degree turn).
    ``confidence`` in [0, 1]: 0 on a blank page or one with no line structure.
    """

    angle_degrees: float
    sideways: bool
    confidence: float


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    confidence: float  # 0..100, tesseract's
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class OcrResult:
    text: str
    mean_confidence: float | None  # None when the page has no words
    words: tuple[Word, ...]
    text_layer_pdf: bytes  # tesseract's text-only PDF page for the region read
    # The region of the page that was read, (left, top, right, bottom) in pixels; word
    # boxes are in page coordinates, the text layer's page covers this region only.
    region: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class Orientation:
    """Tesseract OSD's view: the clockwise turn that makes the page upright."""

    rotate_clockwise: int  # 0, 90, 180, 270
    confidence: float
