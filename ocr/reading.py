"""OCR of a straightened page, with the upside-down check folded in."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from chartclerk.ocr.models import OcrResult
from chartclerk.ocr.prepare import StraightPage, content_box, erase_thin_lines, turn_page
from chartclerk.ocr.tesseract import detect_orientation, ocr_image
from chartclerk.settings import OcrSettings

log = logging.getLogger(__name__)

_MIN_WORDS_TO_TRUST = 8
# When line shapes already told which way is up, only a reading this poor is checked
# again: pages read upside down measured 27-37 mean word confidence, upright ones
# 94-96, so poor but upright scans (60-70) no longer pay for an OSD run.
_SURE_PAGE_CHECK_CONFIDENCE = 50.0
_MIN_OSD_CONFIDENCE = 1.0


@dataclass(frozen=True, slots=True)
class ReadPage:
    page: StraightPage  # as finally turned
    ocr: OcrResult


def ocr_page(page: StraightPage, settings: OcrSettings) -> ReadPage:
    """OCR the page as it stands, then double-check its orientation if the reading is poor."""
    return check_orientation(read_page(page, settings), settings)


def read_page(page: StraightPage, settings: OcrSettings) -> ReadPage:
    """One tesseract pass over the page as ``straighten_page`` left it: over the part
    that holds ink (``content_box``), or the whole page, its long thin horizontal lines
    (fax streaks, rules) whitened in the copy tesseract reads (``erase_thin_lines``)."""
    box = content_box(page.image, page.dpi)
    if box is None:
        return ReadPage(page, ocr_image(erase_thin_lines(page.image, page.dpi), page.dpi, settings))
    left, top, right, bottom = box
    part_image = np.ascontiguousarray(page.image[top:bottom, left:right])
    part = ocr_image(erase_thin_lines(part_image, page.dpi), page.dpi, settings)
    words = tuple(dataclasses.replace(w, left=w.left + left, top=w.top + top) for w in part.words)
    return ReadPage(page, dataclasses.replace(part, words=words, region=box))


def check_orientation(first: ReadPage, settings: OcrSettings) -> ReadPage:
    """A page still upside down (or at 270 degrees) reads as garbage with low word
    confidence; only then is tesseract's orientation detection run, and the page is
    read again turned, keeping the better reading. Pages read well, the vast
    majority, pay nothing here."""
    if _trusted(first, settings):
        return first
    page = first.page
    osd = detect_orientation(page.image, page.dpi, settings)
    if osd is None or osd.rotate_clockwise == 0 or osd.confidence < _MIN_OSD_CONFIDENCE:
        return first
    second = read_page(turn_page(page, osd.rotate_clockwise), settings)
    log.debug("orientation check: turned %d degrees", osd.rotate_clockwise)
    return second if _score(second.ocr) > _score(first.ocr) else first


def _trusted(read: ReadPage, settings: OcrSettings) -> bool:
    result = read.ocr
    if result.mean_confidence is None:
        return True  # a blank page: nothing to turn
    floor = settings.orientation_check_confidence
    if read.page.orientation_sure:
        floor = min(floor, _SURE_PAGE_CHECK_CONFIDENCE)
    return len(result.words) >= _MIN_WORDS_TO_TRUST and result.mean_confidence >= floor


def _score(result: OcrResult) -> float:
    """Confident words read: favours the reading with more and better words."""
    return sum(w.confidence for w in result.words if w.confidence >= 50)
