"""Does a text layer say what the page shows? A quick OCR of a band of the page, compared.

Another program's invisible OCR layer, or text hidden under a picture, is only worth
keeping when it says what the page shows. Tesseract reads one band of the page (a quarter
of its height, where the layer's words are densest), and the share of the words it reads
confidently that the layer also has, at about the same height, is the agreement. A good
layer agrees on nearly every word (tesseract's own slips cost a few); an old OCR's garble
or a different text underneath does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from chartclerk.ingest.models import GrayImage
from chartclerk.ocr.tesseract import ocr_image
from chartclerk.settings import OcrSettings

_BAND = 0.25  # share of the page's height read
_MIN_SAMPLE_WORDS = 6  # fewer confident words than this: no evidence either way
_MIN_CONFIDENCE = 60.0
_TOKEN = re.compile(r"[^\W_]{3,}")

# (text, left, top, right, bottom) in pixels of ``image``
LayerWord = tuple[str, float, float, float, float]


def layer_agreement(
    image: GrayImage, dpi: int, layer: Sequence[LayerWord], settings: OcrSettings
) -> float | None:
    """The share (0..1) of the words tesseract reads confidently in a band of ``image`` that
    the text layer ``layer`` also has in that band; None when the band gives too few words to
    judge by."""
    height = image.shape[0]
    if not layer or height < 16:
        return None
    centres = sorted((top + bottom) / 2 for _, _, top, _, bottom in layer)
    middle = centres[len(centres) // 2]
    span = max(16, round(height * _BAND))
    top = int(min(max(0, middle - span / 2), height - span)) if span < height else 0
    bottom = min(height, top + span)
    sample = ocr_image(np.ascontiguousarray(image[top:bottom]), dpi, settings)
    seen = [
        token.lower()
        for w in sample.words
        if w.confidence >= _MIN_CONFIDENCE
        for token in _TOKEN.findall(w.text)
    ]
    if len(seen) < _MIN_SAMPLE_WORDS:
        return None
    slack = span * 0.1
    has = {
        token.lower()
        for text, _, word_top, _, word_bottom in layer
        if word_bottom >= top - slack and word_top <= bottom + slack
        for token in _TOKEN.findall(text)
    }
    return sum(1 for token in seen if token in has) / len(seen)
