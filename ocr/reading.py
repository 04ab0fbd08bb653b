"""OCR of a straightened page, with the upside-down check folded in."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chartclerk.ocr.models import OcrResult
from chartclerk.ocr.prepare import StraightPage, turn_page
from chartclerk.ocr.tesseract import detect_orientation, ocr_image
from chartclerk.settings import OcrSettings

log = logging.getLogger(__name__)

_MIN_WORDS_TO_TRUST = 8
_MIN_OSD_CONFIDENCE = 1.0


@dataclass(frozen=True, slots=True)
class ReadPage:
    page: StraightPage  # as finally turned
    ocr: OcrResult


def ocr_page(page: StraightPage, settings: OcrSettings) -> ReadPage:
    """OCR the page as it stands. Upside-down (or 270-degree) pages read as garbage
    with low word confidence; only then is tesseract's orientation detection run,
    and the page is read again turned, keeping the better reading. Upright pages,
    the vast majority, pay for one OCR pass and nothing else."""
    first = ocr_image(page.image, page.dpi, settings)
    if _trusted(first, settings):
        return ReadPage(page, first)
    osd = detect_orientation(page.image, page.dpi, settings)
    if osd is None or osd.rotate_clockwise == 0 or osd.confidence < _MIN_OSD_CONFIDENCE:
        return ReadPage(page, first)
    turned = turn_page(page, osd.rotate_clockwise)
    second = ocr_image(turned.image, turned.dpi, settings)
    log.debug("orientation check: turned %d degrees", osd.rotate_clockwise)
    if _score(second) > _score(first):
        return ReadPage(turned, second)
    return ReadPage(page, first)


def _trusted(result: OcrResult, settings: OcrSettings) -> bool:
    if result.mean_confidence is None:
        return True  # a blank page: nothing to turn
    return (
        len(result.words) >= _MIN_WORDS_TO_TRUST
        and result.mean_confidence >= settings.orientation_check_confidence
    )


def _score(result: OcrResult) -> float:
    """Confident words read: favours the reading with more and better words."""
    return sum(w.confidence for w in result.words if w.confidence >= 50)
