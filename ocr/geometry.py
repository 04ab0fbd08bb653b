"""Page geometry without OCR: skew measurement, quarter turns and deskewing.

The skew of a page is found from the projection profiles of its ink. Text lines make
the profile taken along them spiky (dense rows of ink separated by white gaps); the
spikes are sharpest when the projection direction matches the line direction. The
page is downscaled and binarised; connected components that cannot be text (borders,
rules, table frames, solid blocks, specks) are dropped; the remaining ink pixels are
projected at candidate angles and scored by the sum of squares of the profile, for
rows (lines run across) and columns (lines run down: the page lies sideways). A coarse
grid is followed by a fine one, and the result is polished to a few hundredths of a
degree by cross-correlating the line profiles of neighbouring vertical strips of the text
(the median strip-to-strip climb, so the gutter of a two-column page does no harm).

Angles follow :class:`~chartclerk.ocr.models.SkewEstimate`: positive when the content is
turned counter-clockwise as seen on screen.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import cv2
import numpy as np
import numpy.typing as npt

from chartclerk.ingest.scaling import halved
from chartclerk.ocr.models import SkewEstimate

__all__ = ["measure_skew", "rotate_quarter", "deskew"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
_Pixel = TypeVar("_Pixel", bound=np.generic)

_WORK_LONG_SIDE: Final = 1000  # px on the long side of the analysed copy
_MIN_CONTRAST: Final = 48  # grey levels between ink and paper for a page to count as non-blank
_MIN_INK_POINTS: Final = 150
_MAX_COARSE_POINTS: Final = 12_000
_MAX_FINE_POINTS: Final = 40_000
_COARSE_STEP: Final = 1.0
_FINE_STEP: Final = 0.1
_FINE_HALF_SPAN: Final = 0.8
_XCORR_MAX_LAG: Final = 4
_XCORR_ROUNDS: Final = 2
_POLISH_STRIPS: Final = 4
_MAX_POLISH: Final = 0.25  # degrees the polish may move the fine-search angle
_SMOOTH_FRACTION: Final = 0.05  # of the long side: a few text lines
_NO_LIFT: Final = 0.3  # line-structure lift of noise and pictures ...
_CLEAR_LIFT: Final = 0.8  # ... and of a clearly lined text page
_ENOUGH_COMPONENTS: Final = 60  # glyph-sized components for full confidence
_MIN_DESKEW: Final = 0.05
_THICK_STROKE: Final = 0.5  # inscribed radius, of the median glyph height, beyond any pen stroke
_MIN_THICK: Final = 3.0  # px of the analysed copy
_BLANK: Final = SkewEstimate(angle_degrees=0.0, sideways=False, confidence=0.0)


@dataclass(frozen=True, slots=True)
class _Points:
    """Ink pixel coordinates (centred on their mean) with a weight (darkness) each."""

    x: FloatArray
    y: FloatArray
    w: FloatArray

    @property
    def count(self) -> int:
        return int(self.x.size)

    def take(self, index: npt.NDArray[np.intp]) -> _Points:
        return _Points(x=self.x[index], y=self.y[index], w=self.w[index])


@dataclass(frozen=True, slots=True)
class _Ink:
    points: _Points  # binarised ink of text-like components (weight 1)
    soft: _Points  # the same ink plus a one-pixel rim, weighted by darkness
    components: int


# --------------------------------------------------------------------------- input


def _to_gray(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """uint8 single-channel view/copy of a grey, 1-bit (bool or 0/1) or RGB(A) image."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = cv2.cvtColor(_to_uint8(array[:, :, :3]), cv2.COLOR_RGB2GRAY)
    if array.ndim != 2:
        msg = f"expected a 2-D grey or 3-D colour image, got shape {array.shape}"
        raise ValueError(msg)
    return _to_uint8(array)


def _to_uint8(array: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    if array.dtype == np.uint8:
        if array.size and int(array.max()) <= 1:  # 0/1 bitonal
            return np.where(array > 0, np.uint8(255), np.uint8(0))
        return array.astype(np.uint8, copy=False)
    if array.dtype == np.bool_:
        return np.where(array, np.uint8(255), np.uint8(0))
    if np.issubdtype(array.dtype, np.integer):
        top = int(array.max()) if array.size else 0
        scale = 255.0 if top <= 1 else 255.0 / 65535.0 if top > 255 else 1.0
        return np.clip(array.astype(np.float64) * scale, 0, 255).astype(np.uint8)
    values = array.astype(np.float64)
    scale = 255.0 if values.size and float(np.nanmax(values)) <= 1.0 else 1.0
    return np.clip(np.nan_to_num(values * scale), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- ink extraction


def _ink_mask(small: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """1 where Otsu calls a pixel ink; None when the page has no real ink/paper contrast."""
    threshold, ink = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    histogram = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel().astype(np.intp)
    cut = int(threshold) + 1
    dark, light = _median_level(histogram[:cut]), _median_level(histogram[cut:])
    if dark is None or light is None or (light + cut) - dark < _MIN_CONTRAST:
        return None
    return np.asarray(ink, dtype=np.uint8)


def _median_level(histogram: npt.NDArray[np.intp]) -> int | None:
    """Index of the median of a histogram slice; None when it is empty."""
    total = int(histogram.sum())
    if total == 0:
        return None
    return int(np.searchsorted(np.cumsum(histogram), (total + 1) // 2))


def _text_like(stats: npt.NDArray[np.int32], long_side: int) -> npt.NDArray[np.bool_]:
    """Per component: could it be (part of) text? Borders, rules, frames, blobs and specks cannot."""
    width = stats[:, cv2.CC_STAT_WIDTH]
    height = stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    short, long_ = np.minimum(width, height), np.maximum(width, height)
    keep = (short <= 0.08 * long_side) & (long_ <= 0.3 * long_side) & (area >= 2)
    keep &= area <= 0.85 * width * height + 4  # solid filled blocks are not glyphs
    keep[0] = False  # background
    return keep


def _thick(
    ink: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.int32],
    stats: npt.NDArray[np.int32],
    keep: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Per component: does it hold ink thicker than any pen stroke of the page's text (a logo,
    a seal, a filled shape)? Such a blob is structureless ink that can outweigh a few lines of
    text: thick means its inscribed radius exceeds _THICK_STROKE of the median text-like
    component's height (and at least _MIN_THICK px)."""
    thick = np.zeros(stats.shape[0], dtype=np.bool_)
    if not keep.any():
        return thick
    height = float(np.median(stats[keep, cv2.CC_STAT_HEIGHT]))
    radius = max(_MIN_THICK, _THICK_STROKE * height)
    inside = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    thick[np.unique(labels[inside > radius])] = True
    return thick


def _centred(x: FloatArray, y: FloatArray, w: FloatArray, cx: float, cy: float) -> _Points:
    return _Points(x=x - cx, y=y - cy, w=w)


def _extract_ink(small: npt.NDArray[np.uint8]) -> _Ink | None:
    ink = _ink_mask(small)
    if ink is None:
        return None
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=cv2.CV_32S)
    keep = _text_like(np.asarray(stats, dtype=np.int32), max(small.shape))
    keep &= ~_thick(ink, np.asarray(labels, dtype=np.int32), np.asarray(stats, dtype=np.int32), keep)
    ys, xs = _nonzero(ink)
    text = keep[labels[ys, xs]]
    ys, xs = ys[text], xs[text]
    if xs.size == 0:
        return None
    rim = np.asarray(cv2.dilate(_mask_of(ys, xs, ink.shape), np.ones((3, 3), np.uint8)), dtype=np.uint8)
    sy, sx = _nonzero(rim)
    darkness = (255.0 - small[sy, sx].astype(np.float64)) / 255.0
    cx, cy = float(xs.mean()), float(ys.mean())
    hard = _centred(xs.astype(np.float64), ys.astype(np.float64), np.ones(xs.size), cx, cy)
    soft = _centred(sx.astype(np.float64), sy.astype(np.float64), darkness, cx, cy)
    return _Ink(points=hard, soft=soft, components=int(np.count_nonzero(keep)))


def _nonzero(mask: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(rows, columns) of the non-zero pixels, in raster order (cv2.findNonZero is faster than numpy)."""
    found = cv2.findNonZero(mask)
    if found is None:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    xy = found.reshape(-1, 2).astype(np.intp)
    return xy[:, 1], xy[:, 0]


def _mask_of(
    ys: npt.NDArray[np.intp], xs: npt.NDArray[np.intp], shape: tuple[int, ...]
) -> npt.NDArray[np.uint8]:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[ys, xs] = 1
    return mask


def _subsample(points: _Points, limit: int, rng: np.random.Generator) -> _Points:
    if points.count <= limit:
        return points
    return points.take(rng.choice(points.count, size=limit, replace=False))


def _jittered(points: _Points, rng: np.random.Generator) -> _Points:
    """Dither by up to half a pixel so the pixel grid itself does not favour 0 and 90 degrees."""
    return _Points(
        x=points.x + rng.uniform(-0.5, 0.5, points.count),
        y=points.y + rng.uniform(-0.5, 0.5, points.count),
        w=points.w,
    )


# --------------------------------------------------------------------------- projection scores


def _rotated(points: _Points, angles: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(along-rows, along-columns) coordinates of every point for every angle: shape (angles, points)."""
    theta = np.deg2rad(angles)[:, None]
    cos, sin = np.cos(theta), np.sin(theta)
    across = points.x[None, :] * cos - points.y[None, :] * sin
    down = points.x[None, :] * sin + points.y[None, :] * cos
    return across, down


def _sharpness(coords: FloatArray, smooth: int) -> FloatArray:
    """Line-structure score of the 1-px-bin profile of each row of ``coords`` (one row per angle).

    The sum of squared bin counts, divided (when ``smooth`` > 1) by that of the profile
    box-smoothed over ``smooth`` bins. The ratio is about 1 for structureless ink and well
    above 1 when the profile alternates between dense lines and white gaps, whatever the
    amount of ink or the shape of the page.
    """
    angles = coords.shape[0]
    reach = int(math.ceil(float(np.abs(coords).max()))) + smooth + 1
    width = 2 * reach + 1
    offsets = (np.arange(angles) * width + reach)[:, None]
    bins = (coords + offsets).astype(np.intp)  # truncation is floor: every value is positive
    counts = np.bincount(bins.ravel(), minlength=width * angles).reshape(angles, width).astype(np.float64)
    energy = (counts**2).sum(axis=1)
    if smooth <= 1:
        return np.asarray(energy, dtype=np.float64)
    running = np.cumsum(counts, axis=1)
    smoothed = (running[:, smooth:] - running[:, :-smooth]) / smooth
    return np.asarray(energy / np.maximum((smoothed**2).sum(axis=1), 1e-9), dtype=np.float64)


def _scores(points: _Points, angles: FloatArray, smooth: int) -> tuple[FloatArray, FloatArray]:
    """(row scores, column scores): high when text lines run across / down at that angle."""
    across, down = _rotated(points, angles)
    return _sharpness(down, smooth), _sharpness(across, smooth)


def _angle_grid(centre: float, half_span: float, step: float, limit: float) -> FloatArray:
    start = max(-limit, centre - half_span)
    stop = min(limit, centre + half_span)
    count = max(1, round((stop - start) / step) + 1)
    return np.linspace(start, stop, count)


def _parabolic_peak(values: FloatArray, index: int) -> float:
    """Sub-sample offset (-0.5..0.5) of the peak at ``index`` from a parabola through three samples."""
    if index <= 0 or index >= values.size - 1:
        return 0.0
    left, mid, right = float(values[index - 1]), float(values[index]), float(values[index + 1])
    curvature = left - 2.0 * mid + right
    if curvature >= 0.0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


# --------------------------------------------------------------------------- sub-pixel polish


def _profile(coords: FloatArray, weights: FloatArray, origin: float, size: int) -> FloatArray:
    """Linearly splatted (sub-pixel) weighted histogram of ``coords`` on 1-px bins from ``origin``."""
    position = coords - origin
    lower = np.floor(position).astype(np.intp)
    frac = position - lower
    profile = np.bincount(lower, weights=weights * (1.0 - frac), minlength=size + 2)
    profile += np.bincount(lower + 1, weights=weights * frac, minlength=size + 2)
    return np.asarray(profile[: size + 2], dtype=np.float64)


def _shift(first: FloatArray, second: FloatArray, max_lag: int) -> float | None:
    """Sub-pixel lag d maximising sum(first[i] * second[i + d]); None when there is no clear peak."""
    a = first - first.mean()
    b = second - second.mean()
    n = a.size
    if n <= 2 * max_lag + 2:
        return None
    core = a[max_lag : n - max_lag]
    corr = np.array(
        [float(core @ b[max_lag + lag : n - max_lag + lag]) for lag in range(-max_lag, max_lag + 1)]
    )
    best = int(np.argmax(corr))
    if corr[best] <= 0.0 or best in (0, corr.size - 1):
        return None
    return best - max_lag + _parabolic_peak(corr, best)


def _polish(soft: _Points, angle: float, sideways: bool) -> float:
    """Correct ``angle`` by how far text lines climb from one vertical strip of the text to the next.

    The strip-to-strip offsets come from cross-correlating the strips' line profiles; their
    median ignores the pair straddling the gutter of a two-column page, whose lines need not
    line up.
    """
    across, down = _rotated(soft, np.array([angle]))
    along, normal = (down[0], across[0]) if sideways else (across[0], down[0])
    low, high = (float(v) for v in np.quantile(along, (0.01, 0.99)))
    edges = np.linspace(low, high, _POLISH_STRIPS + 1)
    strip = np.searchsorted(edges, along, side="right") - 1
    origin = float(normal.min()) - 1.0
    size = int(math.ceil(float(normal.max()) - origin)) + 1
    profiles: list[tuple[float, FloatArray] | None] = []
    for index in range(_POLISH_STRIPS):
        member = strip == index
        if int(np.count_nonzero(member)) < _MIN_INK_POINTS:
            profiles.append(None)
            continue
        centre = float(np.average(along[member], weights=soft.w[member]))
        profiles.append((centre, _profile(normal[member], soft.w[member], origin, size)))
    slopes = [
        slope
        for left, right in zip(profiles, profiles[1:], strict=False)
        if left is not None and right is not None and (slope := _slope(left, right)) is not None
    ]
    if not slopes:
        return angle
    degrees = math.degrees(math.atan(float(np.median(slopes))))
    return angle + degrees if sideways else angle - degrees


def _slope(left: tuple[float, FloatArray], right: tuple[float, FloatArray]) -> float | None:
    """Rise of the text lines per pixel from the ``left`` strip (centre, profile) to the ``right`` one."""
    distance = right[0] - left[0]
    lag = _shift(left[1], right[1], _XCORR_MAX_LAG)
    if lag is None or distance <= 0.0:
        return None
    return lag / distance


# --------------------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class _Search:
    """Outcome of the coarse search: best angle, text direction and the scores seen."""

    angle: float
    sideways: bool
    chosen: FloatArray  # scores along the text lines, one per coarse angle
    other: FloatArray  # scores across them
    limit: float


def _coarse_search(points: _Points, limit: float, smooth: int, rng: np.random.Generator) -> _Search:
    angles = _angle_grid(0.0, limit, _COARSE_STEP, limit)
    rows, cols = _scores(_jittered(_subsample(points, _MAX_COARSE_POINTS, rng), rng), angles, smooth)
    sideways = float(cols.max()) > float(rows.max())
    chosen, other = (cols, rows) if sideways else (rows, cols)
    best = float(angles[int(np.argmax(chosen))])
    return _Search(angle=best, sideways=sideways, chosen=chosen, other=other, limit=limit)


def _fine_search(points: _Points, coarse: _Search, rng: np.random.Generator) -> float:
    angles = _angle_grid(coarse.angle, _FINE_HALF_SPAN, _FINE_STEP, coarse.limit)
    rows, cols = _scores(_jittered(_subsample(points, _MAX_FINE_POINTS, rng), rng), angles, 1)
    scores = cols if coarse.sideways else rows
    index = int(np.argmax(scores))
    return float(angles[index]) + _parabolic_peak(scores, index) * _FINE_STEP


def _polished(soft: _Points, angle: float, sideways: bool) -> float:
    """``angle`` after the strip polish, unless the polish wanders off (then the fine angle stands)."""
    polished = angle
    for _ in range(_XCORR_ROUNDS):
        polished = _polish(soft, polished, sideways)
    return polished if abs(polished - angle) <= _MAX_POLISH else angle


def _confidence(search: _Search, components: int) -> float:
    """Lift of the best line-structure score over the typical cross-direction one x amount of text.

    The scores across the text lines show what unlined ink of this page scores; a crisp
    text page lifts its best score 1.5-2x above that, noise and pictures < 0.3x.
    """
    baseline = float(np.median(search.other))
    if baseline <= 0.0:
        return 0.0
    lift = float(search.chosen.max()) / baseline - 1.0
    lines = (lift - _NO_LIFT) / (_CLEAR_LIFT - _NO_LIFT)
    amount = components / _ENOUGH_COMPONENTS
    return round(float(np.clip(lines, 0.0, 1.0) * min(1.0, amount)), 3)


# --------------------------------------------------------------------------- public API


def measure_skew(gray: npt.NDArray[np.generic], max_angle: float = 20.0) -> SkewEstimate:
    """Dominant text-line angle of a page image (grey, 1-bit or RGB).

    Searches skews within ``max_angle`` degrees (capped at 45) of both horizontal and
    vertical text lines. Returns angle 0 and confidence 0 for a blank or structureless page.
    """
    page = _to_gray(gray)
    if page.size == 0 or min(page.shape) < 8:
        return _BLANK
    small = halved(page, round(1.4 * _WORK_LONG_SIDE))[0]  # 0.7-1.4x the working size
    ink = _extract_ink(small)
    if ink is None or ink.points.count < _MIN_INK_POINTS:
        return _BLANK
    rng = np.random.default_rng(0)  # subsampling and dither: same page, same answer
    smooth = 2 * round(_SMOOTH_FRACTION * max(small.shape) / 2) + 1
    coarse = _coarse_search(ink.points, float(min(abs(max_angle), 45.0)), smooth, rng)
    confidence = _confidence(coarse, ink.components)
    if confidence == 0.0:
        logger.debug("no line structure on a %dx%d page", *page.shape)
        return _BLANK
    angle = _fine_search(ink.points, coarse, rng)
    angle = _polished(_subsample(ink.soft, _MAX_FINE_POINTS, rng), angle, coarse.sideways)
    angle = float(np.clip(angle, -45.0, np.nextafter(45.0, 0.0)))
    logger.debug("skew %.3f deg, sideways=%s, confidence %.2f", angle, coarse.sideways, confidence)
    return SkewEstimate(angle_degrees=round(angle, 3), sideways=coarse.sideways, confidence=confidence)


def rotate_quarter(gray: npt.NDArray[_Pixel], clockwise_degrees: int) -> npt.NDArray[_Pixel]:
    """Turn an image clockwise by 0, 90, 180 or 270 degrees (any multiple of 90; 0 returns the input)."""
    if clockwise_degrees % 90:
        msg = f"rotate_quarter takes 0, 90, 180 or 270 degrees, not {clockwise_degrees}"
        raise ValueError(msg)
    turns = (clockwise_degrees // 90) % 4
    if turns == 0:
        return gray
    return np.ascontiguousarray(np.rot90(gray, k=-turns))


def deskew(gray: npt.NDArray[_Pixel], angle_degrees: float) -> npt.NDArray[_Pixel]:
    """Undo a measured skew: turn the content clockwise by ``angle_degrees`` on a grown white canvas.

    Works on grey or colour uint8 (and bool) images with bilinear interpolation (a
    third of the time of cubic, and the same OCR at 300 dpi); the canvas grows so no
    content is cut and the new corners are white. Returns the input itself when
    ``|angle_degrees|`` is below 0.05.
    """
    if abs(angle_degrees) < _MIN_DESKEW:
        return gray
    if gray.dtype == np.bool_:
        turned = _warp(_to_uint8(gray), angle_degrees, 255.0)
        return cast("npt.NDArray[_Pixel]", turned > 127)
    return _warp(gray, angle_degrees, _white_level(gray.dtype))


def _white_level(dtype: np.dtype[Any]) -> float:
    """Paper white for an image dtype: the integer maximum, 1.0 for floats."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _warp(image: npt.NDArray[_Pixel], angle_degrees: float, white: float) -> npt.NDArray[_Pixel]:
    height, width = image.shape[:2]
    theta = math.radians(angle_degrees)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    new_width = math.ceil(width * cos + height * sin - 1e-6)
    new_height = math.ceil(width * sin + height * cos - 1e-6)
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), -angle_degrees, 1.0)
    matrix[0, 2] += new_width / 2.0 - width / 2.0
    matrix[1, 2] += new_height / 2.0 - height / 2.0
    source: npt.NDArray[Any] = image
    turned = cv2.warpAffine(
        source,
        matrix,
        (new_width, new_height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(white, white, white, white),
    )
    return np.asarray(turned, dtype=image.dtype)
