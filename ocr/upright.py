"""Which way up a straightened page reads, from the shape of its text lines.

Latin print carries much more ink above the x-height band (capitals, digits and
the ascenders of b d f h k l t) than below the baseline (the descenders of g j p
q y). Turn a page upside down and the two swap. So, in each text line of a
deskewed, horizontal page, the row profile of ink is split into the dense core
band and the sparse parts above and below it, and the totals over the page are
compared. This costs a few tens of milliseconds, where tesseract's orientation
detection costs most of a second, and it is decided before OCR so that a page
turned 180 degrees is read once, not twice.

The estimate says unsure (``sure`` False) on pages with too few text lines or
too weak an asymmetry (empty forms, speckle and blur that merge the lines, and,
untested, scripts other than Latin): the caller then keeps the slower checks
(OCR confidence, then tesseract OSD). Measured with ``bench/geometry.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from chartclerk.ingest.models import GrayImage
from chartclerk.ingest.scaling import halved_to_dpi

# Pages are cut into vertical strips so that lines of side-by-side columns (and
# any skew left over) do not smear into each other.
_STRIPS = 8
_INK_LEVEL = 160  # darker than this is ink (pages are gray, white paper)
_CORE_FRACTION = 0.5  # rows at least this dense (of the line's densest row) form the core band
_LINE_MIN_PT, _LINE_MAX_PT = 1.8, 36.0  # heights of a text line's ink band, in points
_MIN_LINES = 6  # fewer lines than this: unsure
_MIN_ASYMMETRY = 0.15  # |above - below| / (above + below) under this: unsure


@dataclass(frozen=True, slots=True)
class UprightEstimate:
    """``upside_down`` is only meaningful when ``sure``. ``asymmetry`` in [-1, 1] is
    (ink above the core band - ink below) / both: positive on upright Latin text."""

    upside_down: bool
    sure: bool
    asymmetry: float
    lines: int


def estimate_upright(gray: GrayImage, dpi: float) -> UprightEstimate:
    """Upright or upside down, for a page whose text lines already run horizontally."""
    # About 150 dpi: fewer pixels, and isolated speckles average away.
    small, factor = halved_to_dpi(gray, dpi, 250)
    ink = cv2.threshold(small, _INK_LEVEL, 1, cv2.THRESH_BINARY_INV)[1]
    points = max(dpi, 50.0) / factor / 72.0
    lo, hi = max(3, round(_LINE_MIN_PT * points)), round(_LINE_MAX_PT * points)
    above = below = 0.0
    lines = 0
    width = ink.shape[1]
    for strip in range(_STRIPS):
        part = ink[:, strip * width // _STRIPS : (strip + 1) * width // _STRIPS]
        profile = cv2.reduce(part, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.float64)
        for start, stop in _bands(profile, min_ink=max(2.0, 0.004 * part.shape[1])):
            if not lo <= stop - start <= hi:
                continue
            up, down = _outside_core(profile[start:stop])
            above += up
            below += down
            lines += 1
    total = above + below
    asymmetry = (above - below) / total if total > 0 else 0.0
    sure = lines >= _MIN_LINES and abs(asymmetry) >= _MIN_ASYMMETRY
    return UprightEstimate(upside_down=asymmetry < 0, sure=sure, asymmetry=round(asymmetry, 3), lines=lines)


def _bands(profile: npt.NDArray[np.float64], min_ink: float) -> list[tuple[int, int]]:
    """Runs of consecutive rows holding ink: the text lines of one strip."""
    on = np.concatenate(([0], (profile > min_ink).astype(np.int8), [0]))
    edges = np.diff(on)
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _outside_core(line: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Ink above and below the line's core band (the x-height band of lowercase text)."""
    core = np.flatnonzero(line >= _CORE_FRACTION * line.max())
    return float(line[: core[0]].sum()), float(line[core[-1] + 1 :].sum())
