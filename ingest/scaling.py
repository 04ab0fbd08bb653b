"""Fast reduced copies of page images, for analyses that do not need full resolution."""

from __future__ import annotations

import cv2
import numpy as np

from chartclerk.ingest.models import GrayImage


def halved(gray: GrayImage, below: int) -> tuple[GrayImage, int]:
    """An area-averaged copy of ``gray``, halved until its long side is under ``below``,
    and the factor it was reduced by (1, 2, 4...).

    Only exact halvings: OpenCV's 2x area reduction runs some 40 times faster than an
    arbitrary factor (0.6 against 24 ms on a 300 dpi letter page)."""
    small, factor = gray, 1
    while max(small.shape[:2]) >= below:
        small, factor = _half(small), factor * 2
    return small, factor


def halved_to_dpi(gray: GrayImage, dpi: float, below: float) -> tuple[GrayImage, int]:
    """The same, halved until the resolution is under ``below`` dpi."""
    small, factor = gray, 1
    while dpi / factor >= below and min(small.shape[:2]) >= 2:
        small, factor = _half(small), factor * 2
    return small, factor


def _half(gray: GrayImage) -> GrayImage:
    even = gray[: gray.shape[0] // 2 * 2, : gray.shape[1] // 2 * 2]
    size = (even.shape[1] // 2, even.shape[0] // 2)
    return np.asarray(cv2.resize(even, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
