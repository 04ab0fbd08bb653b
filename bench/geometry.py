"""Benchmark of page geometry on synthetic scans: skew, sideways and upside-down
detection, accuracy and speed.

Run from the repository root:
``.venv/bin/python bench/geometry.py [--pages 160] [--hard 160] [--dpi 300]``.
Pages get a random skew within +-15 degrees, a random quarter turn, speckle and blur.
Every third page comes from the held-out template family of bench/heldout.py (fonts,
sizes and margins the tests' pages do not use). Orientation is judged after
``straighten_page`` (sideways from line geometry, upside down from line shapes):
a page is right, wrong, or left unsure for the OCR-confidence and OSD checks.

``--hard`` pages are the outliers' family (its own generator, not in the tests): every
page bitonal (thresholded at a random level), skew within +-8 degrees, at 150, 200 or
300 dpi, some faxed at half the vertical resolution, in condensed, narrow and mono fonts:
sparse pages (two to five short lines on white), large ruled tables (12-30 rows, 3-6
columns), logos (a solid disc, star or framed ring with a large name beside it) above
sparse text, tables or full text. Skew error is reported per family, mean and max.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from chartclerk.bench.heldout import held_out_document
from chartclerk.classify.training.render import render_pages, scan_like
from chartclerk.ingest.models import PageImage
from chartclerk.ocr.geometry import deskew, measure_skew, rotate_quarter
from chartclerk.ocr.prepare import straighten_page
from chartclerk.ocr.upright import estimate_upright
from chartclerk.tests.scans import DOC_TYPES, distort, make_roster, render_page

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Trial:
    doc_type: str
    skew: float
    turns: int
    measured: float
    sideways: bool
    confidence: float
    seconds: float
    turned: int  # clockwise quarter turn straighten_page applied
    upright_sure: bool
    upright_seconds: float

    @property
    def error(self) -> float:
        return abs(self.measured - self.skew)

    @property
    def sideways_ok(self) -> bool:
        return self.sideways == (self.turns % 2 == 1)

    @property
    def orientation(self) -> str:
        """right / wrong (turned surely the wrong way) / unsure (left for the later checks)."""
        if self.turned == (self.turns * 90) % 360:
            return "right"
        if not self.upright_sure and (self.turned - self.turns * 90) % 360 == 180:
            return "unsure"
        return "wrong"


def run_trial(index: int, dpi: int, rng: random.Random) -> Trial:
    patients = make_roster(1, seed=index)
    doc_type = rng.choice(DOC_TYPES)
    if index % 3 == 2:
        held_out = held_out_document(doc_type, patients[0], seed=index, titled=index % 2 == 0)
        page = render_pages(held_out.blocks, held_out.layout, dpi)[0]
    else:
        page = render_page(doc_type, patients[0], seed=index, dpi=dpi)
    skew = round(rng.uniform(-15.0, 15.0), 2)
    turns = rng.randrange(4)
    scan = distort(
        page,
        skew_degrees=skew,
        quarter_turns_ccw=turns,
        noise=rng.choice((0.0, 0.002, 0.005, 0.01)),
        blur=rng.choice((0, 3, 5)),
        seed=index,
    )
    start = time.perf_counter()
    estimate = measure_skew(scan)
    seconds = time.perf_counter() - start
    straight = straighten_page(PageImage(number=1, image=scan, dpi=dpi))
    level = rotate_quarter(deskew(scan, estimate.angle_degrees), 90 if estimate.sideways else 0)
    start = time.perf_counter()
    upright = estimate_upright(level, dpi)
    upright_seconds = time.perf_counter() - start
    return Trial(
        turned=straight.rotation_degrees,
        upright_sure=upright.sure,
        upright_seconds=upright_seconds,
        doc_type=doc_type,
        skew=skew,
        turns=turns,
        measured=estimate.angle_degrees,
        sideways=estimate.sideways,
        confidence=estimate.confidence,
        seconds=seconds,
    )


_TT = Path("/usr/share/fonts/truetype")
_HARD_FONTS = (
    _TT / "dejavu/DejaVuSansCondensed.ttf",
    _TT / "liberation/LiberationSansNarrow-Regular.ttf",
    _TT / "dejavu/DejaVuSerifCondensed.ttf",
    _TT / "dejavu/DejaVuSansMono.ttf",
)
_HARD_WORDS = (  # noqa: SIM905 - a word list reads better as text
    "patient record result value range flag specimen collected reported normal high low review signed "
    "date time office clinic fax page total amount due member group plan"
).split()
HARD_KINDS = (
    "sparse",
    "table",
    "logo",
    "logo sparse",
    "logo table",
    "table fax",
    "sparse fax",
    "text",
    "logo text fax",
)


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_HARD_WORDS) for _ in range(n))


def _logo(draw: ImageDraw.ImageDraw, rng: random.Random, dpi: int, margin: int) -> int:
    """A solid mark and a large name beside it; returns the y below it."""
    r = rng.randint(dpi // 3, dpi)
    cx, cy = margin + r, margin + r
    shape = rng.randrange(3)
    if shape == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
    elif shape == 1:
        star = [
            (
                cx + r * math.cos(k * math.pi / 5 - math.pi / 2) * (1 if k % 2 == 0 else 0.45),
                cy + r * math.sin(k * math.pi / 5 - math.pi / 2) * (1 if k % 2 == 0 else 0.45),
            )
            for k in range(10)
        ]
        draw.polygon(star, fill=0)
    else:
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=0)
        draw.ellipse((cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2), fill=255)
    big = ImageFont.truetype(str(_HARD_FONTS[0]), round(rng.choice((20, 28, 36)) * dpi / 72))
    draw.text(
        (cx + r + dpi // 6, cy - r // 2),
        rng.choice(("Wexford Labs", "Halcyon Imaging", "Brightwater")),
        font=big,
    )
    return cy + r


def hard_page(kind: str, rng: random.Random, dpi: int) -> tuple[npt.NDArray[np.uint8], float]:
    """A bitonal page of the outliers' family (see the module doc) and its skew."""
    width, height = int(8.5 * dpi), int(11 * dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    points = rng.choice((9, 10, 11, 12))
    font = ImageFont.truetype(str(rng.choice(_HARD_FONTS)), round(points * dpi / 72))
    line = round(points * dpi / 72 * 1.6)
    margin = y = dpi
    if "logo" in kind:
        y = _logo(draw, rng, dpi, margin) + line
    if "sparse" in kind:
        for _ in range(rng.randint(2, 5)):
            draw.text(
                (margin + rng.randint(0, width // 3), y), _words(rng, rng.randint(2, 6)), font=font, fill=0
            )
            y += line * rng.randint(1, 6)
    elif "table" in kind:
        rows, cols = rng.randint(12, 30), rng.randint(3, 6)
        span, row = width - 2 * margin, round(line * 1.3)
        draw.text((margin, y), _words(rng, 4), font=font, fill=0)
        top = y + 2 * line
        rule = max(1, dpi // 100)
        for r in range(rows + 1):
            draw.line((margin, top + r * row, margin + span, top + r * row), fill=0, width=rule)
        for c in range(cols + 1):
            x = margin + c * span // cols
            draw.line((x, top, x, top + rows * row), fill=0, width=rule)
        for r in range(rows):
            for c in range(cols):
                if rng.random() < 0.7:
                    cell = _words(rng, 1 if c else 2)[:14]
                    draw.text(
                        (margin + c * span // cols + 8, top + r * row + (row - line) // 2 + 4),
                        cell,
                        font=font,
                    )
    else:
        while y < height - margin:
            draw.text((margin, y), _words(rng, rng.randint(6, 12)), font=font, fill=0)
            y += line
    skew = round(rng.uniform(-8.0, 8.0), 2)
    scan = scan_like(
        np.asarray(img, dtype=np.uint8),
        skew_degrees=skew,
        noise=rng.choice((0.0, 0.001, 0.003)),
        blur=rng.choice((0, 0, 3)),
        seed=rng.randrange(1000),
    )
    if "fax" in kind:
        scan = np.repeat(scan[::2], 2, axis=0)
    return np.where(scan < rng.randint(100, 180), 0, 255).astype(np.uint8), skew


@dataclass(frozen=True, slots=True)
class HardTrial:
    kind: str
    dpi: int
    skew: float
    measured: float
    confidence: float
    seconds: float

    @property
    def error(self) -> float:
        return abs(self.measured - self.skew)


def run_hard(index: int, rng: random.Random) -> HardTrial:
    kind = HARD_KINDS[index % len(HARD_KINDS)]
    dpi = rng.choice((150, 200, 300))
    scan, skew = hard_page(kind, rng, dpi)
    start = time.perf_counter()
    estimate = measure_skew(scan)
    seconds = time.perf_counter() - start
    return HardTrial(kind, dpi, skew, estimate.angle_degrees, estimate.confidence, seconds)


def report_hard(trials: list[HardTrial], verbose: bool) -> None:
    if not trials:
        return
    errors = [t.error for t in trials]
    print(f"\nhard pages: {len(trials)} bitonal (skew within +-8; sparse, ruled tables, logos, faxed)")
    print(f"skew error: mean {statistics.fmean(errors):.3f} deg, max {max(errors):.3f} deg")
    for kind in HARD_KINDS:
        mine = [t.error for t in trials if t.kind == kind]
        if mine:
            print(
                f"  {kind:14s} {len(mine):4d} pages: mean {statistics.fmean(mine):.3f}, max {max(mine):.3f}"
            )
    times_ms = [t.seconds * 1000 for t in trials]
    print(
        f"measure_skew time per hard page: mean {statistics.fmean(times_ms):.1f} ms, "
        f"max {max(times_ms):.1f} ms"
    )
    if verbose:
        for t in sorted(trials, key=lambda t: -t.error)[:10]:
            print(
                f"  worst: {t.kind} {t.dpi} dpi skew {t.skew:+.2f} -> {t.measured:+.3f} "
                f"conf {t.confidence:.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=160)
    parser.add_argument("--hard", type=int, default=160, help="pages of the outliers' family")
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--verbose", action="store_true", help="one line per page")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    trials = [run_trial(index, args.dpi, rng) for index in range(args.pages)]
    hard_rng = random.Random(f"hard:{args.seed}")
    hard = [run_hard(index, hard_rng) for index in range(args.hard)]
    if args.verbose:
        for t in trials:
            print(
                f"{t.doc_type:18s} skew {t.skew:+7.2f} turns {t.turns} -> {t.measured:+8.3f} "
                f"err {t.error:.3f} sideways_ok {t.sideways_ok} conf {t.confidence:.2f} "
                f"{t.seconds * 1000:.0f} ms, orientation {t.orientation}"
            )
    errors = [t.error for t in trials]
    times_ms = [t.seconds * 1000 for t in trials]
    print(f"pages: {len(trials)} at {args.dpi} dpi (skew within +-15, random quarter turns, noise/blur)")
    print(f"skew error: mean {statistics.fmean(errors):.3f} deg, max {max(errors):.3f} deg")
    print(f"sideways accuracy: {sum(t.sideways_ok for t in trials)}/{len(trials)}")
    print(f"min confidence: {min(t.confidence for t in trials):.2f}")
    outcome = {k: sum(t.orientation == k for t in trials) for k in ("right", "unsure", "wrong")}
    print(
        f"orientation after straighten_page (0/90/180/270): right {outcome['right']}, "
        f"unsure (left to the OCR-confidence check) {outcome['unsure']}, wrong {outcome['wrong']}"
    )
    upright_ms = [t.upright_seconds * 1000 for t in trials]
    print(f"estimate_upright time per page: mean {statistics.fmean(upright_ms):.1f} ms")
    print(
        f"measure_skew time per page: mean {statistics.fmean(times_ms):.1f} ms, "
        f"median {statistics.median(times_ms):.1f} ms, max {max(times_ms):.1f} ms"
    )
    report_hard(hard, args.verbose)
    every = errors + [t.error for t in hard]
    print(
        f"\nall {len(every)} pages: skew error mean {statistics.fmean(every):.3f} deg, "
        f"max {max(every):.3f} deg"
    )


if __name__ == "__main__":
    main()
