"""Page preparation before OCR: resolution, quarter turns and skew."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import cv2
import numpy as np

from chartclerk.ingest.models import GrayImage, PageImage
from chartclerk.ocr.geometry import deskew, measure_skew, rotate_quarter
from chartclerk.ocr.upright import estimate_upright
from chartclerk.settings import OcrSettings

log = logging.getLogger(__name__)

_LETTER_LONG_SIDE_IN = 11.0


@dataclass(frozen=True, slots=True)
class StraightPage:
    """A page turned upright (as far as line geometry tells) and deskewed."""

    number: int
    image: GrayImage
    dpi: int
    skew_degrees: float  # found on the scan, positive = content turned counter-clockwise
    rotation_degrees: int  # clockwise quarter turn applied
    orientation_sure: bool = False  # line geometry and line shapes both told which way is up


def effective_dpi(page: PageImage) -> float:
    """The recorded resolution, or one guessed from the pixel size of a letter page."""
    if page.dpi:
        return page.dpi
    return float(max(page.image.shape[:2])) / _LETTER_LONG_SIDE_IN


def normalize_resolution(page: PageImage, settings: OcrSettings) -> PageImage:
    """Scale fax and photocopy resolutions (or unknown ones) up to ``target_dpi``:
    tesseract reads small glyphs far worse than 300 dpi ones."""
    dpi = effective_dpi(page)
    if dpi >= settings.min_dpi:
        return dataclasses.replace(page, dpi=dpi)
    factor = settings.target_dpi / dpi
    image = cv2.resize(page.image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return dataclasses.replace(page, image=np.asarray(image, dtype=np.uint8), dpi=float(settings.target_dpi))


def straighten_page(page: PageImage) -> StraightPage:
    """Remove the skew, turn sideways text lines horizontal, then turn the page the
    right way up when its line shapes say surely that it is upside down. An unsure
    page is left as it is: ``ocr_page`` double-checks readings that come out poor."""
    dpi = round(page.dpi or effective_dpi(page))
    estimate = measure_skew(page.image)
    angle = estimate.angle_degrees if estimate.confidence > 0 else 0.0
    image = deskew(page.image, angle)
    turn = 90 if estimate.sideways and estimate.confidence > 0 else 0
    if turn:
        image = rotate_quarter(image, turn)
    upright = estimate_upright(image, dpi)
    if upright.sure and upright.upside_down:
        image = rotate_quarter(image, 180)
        turn += 180
    log.debug("orientation: turned %d degrees (asymmetry %+.3f)", turn, upright.asymmetry)
    return StraightPage(
        number=page.number,
        image=image,
        dpi=dpi,
        skew_degrees=round(angle, 2),
        rotation_degrees=turn,
        orientation_sure=upright.sure and estimate.confidence > 0,
    )


def turn_page(page: StraightPage, clockwise: int) -> StraightPage:
    """The same page turned a further quarter turn(s) clockwise."""
    return dataclasses.replace(
        page,
        image=rotate_quarter(page.image, clockwise % 360),
        rotation_degrees=(page.rotation_degrees + clockwise) % 360,
    )
