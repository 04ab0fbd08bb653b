"""Handwriting in a region of a page image: connected components and stroke statistics
(OpenCV). Printed words (their OCR boxes) and ruled lines are taken out first; what is left
is split into specks, blobs (a staple shadow, a smudge: strokes too thick for a pen), thin
horizontal streaks (a fax line) and pen-like strokes, whose total length and spread decide."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from chartclerk.deficiency.models import Gray, InkReading

__all__ = ["PixelBox", "find_rule_lines", "read_ink"]

PixelBox = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels (x1, y1 excluded)

# Thresholds, in inches so they hold at any resolution, set on the tests' generated forms: their
# signatures (2-4 strokes, pens 1-5 px at 150 dpi, light pencil) read 1.7-4.6 in of stroke over
# 1.1-2.0 in; a checkmark 0.4 in over 0.2 in; a stamp's text is set aside by its frame.
SIGNED_STROKE_IN = 1.3
SIGNED_EXTENT_IN = 0.55
UNSIGNED_STROKE_IN = 0.7
UNSIGNED_EXTENT_IN = 0.4
MAX_PEN_IN = 0.065  # thicker strokes than this are not a pen (staple shadow, smudge, highlighter)
MIN_SPECK_IN2 = 0.0004  # smaller components are dust and JPEG noise
INK_CONTRAST = 28  # grey levels under the paper that count as ink (a thin pencil line, scaled: 30-60)


def ink_mask(gray: Gray, box: PixelBox) -> np.ndarray:
    """Ink pixels (255) of the region: darker than its paper by INK_CONTRAST grey levels."""
    x0, y0, x1, y1 = box
    crop = gray[y0:y1, x0:x1]
    if crop.size == 0:
        return np.zeros((0, 0), np.uint8)
    paper = float(np.percentile(crop, 90))
    return np.where(crop < paper - INK_CONTRAST, 255, 0).astype(np.uint8)


def find_rule_lines(gray: Gray, box: PixelBox, dpi: float, min_inches: float = 0.6) -> list[PixelBox]:
    """Horizontal ruled lines (a signature line, a fax streak) at least ``min_inches`` long in
    the region, in page pixels."""
    mask = ink_mask(gray, box)
    if mask.size == 0:
        return []
    length = max(3, round(min_inches * dpi))
    if mask.shape[1] < length:
        return []
    lines = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    x0, y0 = box[0], box[1]
    found = []
    for i in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[i])
        if h <= max(2, round(0.04 * dpi)):
            found.append((x0 + x, y0 + y, x0 + x + w, y0 + y + h))
    return found


def read_ink(
    gray: Gray,
    box: PixelBox,
    dpi: float,
    printed: Iterable[PixelBox] = (),
) -> InkReading:
    """Is there a handwritten signature (or a stamp) in ``box``? ``printed``: boxes of printed
    words (page pixels) to take out first."""
    x0, y0, x1, y1 = _clip(box, gray.shape)
    mask = ink_mask(gray, (x0, y0, x1, y1))
    if mask.size == 0:
        return InkReading("unsigned", 0.0, 0.0, 0, 0)
    # Ruled lines: long horizontal runs (the signature line, a fax streak), long vertical runs
    # (a form's box, a stamp's frame).
    h_len = max(3, round(0.5 * dpi))
    v_len = max(3, round(0.28 * dpi))
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (h_len, 1)))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, v_len)))
    stamped = _is_frame(horizontal, vertical, dpi)
    rules = cv2.bitwise_or(
        cv2.dilate(horizontal, np.ones((3, 1), np.uint8)), cv2.dilate(vertical, np.ones((1, 3), np.uint8))
    )
    mask = cv2.bitwise_and(mask, cv2.bitwise_not(rules))
    pad = max(1, round(0.012 * dpi))
    for bx0, by0, bx1, by1 in printed:
        mask[
            max(0, by0 - y0 - pad) : max(0, by1 - y0 + pad), max(0, bx0 - x0 - pad) : max(0, bx1 - x0 + pad)
        ] = 0
    length_px, strokes, ignored, xs = _strokes(mask, dpi)
    if length_px / dpi < SIGNED_STROKE_IN:
        # A thin or light stroke breaks into specks at the threshold: join gaps of a pixel or two
        # and count again (a thick pen's loops would merge into blobs: only when short of ink).
        joined = _strokes(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), dpi)
        if joined[0] > length_px:
            length_px, strokes, ignored, xs = joined
    stroke_in = length_px / dpi
    extent_in = _union_length(xs) / dpi
    if stamped:
        verdict = "stamped"
    elif stroke_in >= SIGNED_STROKE_IN and extent_in >= SIGNED_EXTENT_IN:
        verdict = "signed"
    elif stroke_in < UNSIGNED_STROKE_IN or extent_in < UNSIGNED_EXTENT_IN:
        verdict = "unsigned"
    else:
        verdict = "unsure"
    return InkReading(verdict, round(stroke_in, 2), round(extent_in, 2), strokes, ignored)  # type: ignore[arg-type]


def _strokes(mask: np.ndarray, dpi: float) -> tuple[float, int, int, list[tuple[int, int]]]:
    """Pen-like strokes of the mask: their total length (pixels), count, the components set
    aside (specks, streaks, blobs) and the strokes' horizontal spans."""
    pen = max(1, round(MAX_PEN_IN * dpi))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(4, round(MIN_SPECK_IN2 * dpi * dpi))
    length_px = 0.0
    strokes = ignored = 0
    xs: list[tuple[int, int]] = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area:
            ignored += 1
            continue
        if h <= max(2, round(0.015 * dpi)) and w >= 4 * h:
            ignored += 1  # a thin horizontal streak: what is left of a fax line or a rule
            continue
        component = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
        contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        perimeter = sum(cv2.arcLength(c, True) for c in contours)
        length = max(perimeter / 2.0, float(max(w, h)))
        if area / max(length, 1.0) > pen:
            ignored += 1  # a blob: staple shadow, smudge, a filled box
            continue
        length_px += length
        strokes += 1
        xs.append((x, x + w))
    return length_px, strokes, ignored, xs


def _is_frame(horizontal: np.ndarray, vertical: np.ndarray, dpi: float) -> bool:
    """A stamp's frame: two vertical sides and a top and bottom edge."""
    v_count, _, v_stats, _ = cv2.connectedComponentsWithStats(vertical, connectivity=8)
    sides = [s for s in v_stats[1:] if s[3] >= 0.28 * dpi and s[2] <= 0.06 * dpi]
    if len(sides) < 2:
        return False
    h_count, _, h_stats, _ = cv2.connectedComponentsWithStats(horizontal, connectivity=8)
    edges = [s for s in h_stats[1:] if s[3] <= 0.06 * dpi]
    if len(edges) < 2:
        return False
    left = min(int(s[0]) for s in sides)
    right = max(int(s[0] + s[2]) for s in sides)
    top = min(int(s[1]) for s in sides)
    bottom = max(int(s[1] + s[3]) for s in sides)
    if right - left < 0.5 * dpi:
        return False
    near = 0.08 * dpi
    spans = [e for e in edges if e[0] <= left + near and e[0] + e[2] >= right - near]
    has_top = any(abs(int(e[1]) - top) <= near for e in spans)
    has_bottom = any(abs(int(e[1] + e[3]) - bottom) <= near for e in spans)
    return has_top or has_bottom  # a frame cut by the region's edge still has one of them


def _clip(box: PixelBox, shape: tuple[int, ...]) -> PixelBox:
    height, width = shape[0], shape[1]
    x0, y0, x1, y1 = box
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def _union_length(spans: list[tuple[int, int]]) -> int:
    total = 0
    end = -1
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total
