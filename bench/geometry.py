"""Benchmark of page geometry on synthetic scans: skew, sideways and upside-down
detection, accuracy and speed.

Run from the repository root: ``.venv/bin/python bench/geometry.py [--pages 40] [--dpi 300]``.
Pages get a random skew within +-15 degrees, a random quarter turn, speckle and blur.
Every third page comes from the held-out template family of bench/heldout.py (fonts,
sizes and margins the tests' pages do not use). Orientation is judged after
``straighten_page`` (sideways from line geometry, upside down from line shapes):
a page is right, wrong, or left unsure for the OCR-confidence and OSD checks.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import time
from dataclasses import dataclass

from chartclerk.bench.heldout import held_out_document
from chartclerk.classify.training.render import render_pages
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--verbose", action="store_true", help="one line per page")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    trials = [run_trial(index, args.dpi, rng) for index in range(args.pages)]
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


if __name__ == "__main__":
    main()
