"""Benchmark of ``measure_skew`` on synthetic scans: accuracy and speed.

Run from the repository root: ``.venv/bin/python bench/geometry.py [--pages 40] [--dpi 300]``.
Pages get a random skew within +-15 degrees, a random quarter turn, speckle and blur.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import time
from dataclasses import dataclass

from chartclerk.ocr.geometry import measure_skew
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

    @property
    def error(self) -> float:
        return abs(self.measured - self.skew)

    @property
    def sideways_ok(self) -> bool:
        return self.sideways == (self.turns % 2 == 1)


def run_trial(index: int, dpi: int, rng: random.Random) -> Trial:
    patients = make_roster(1, seed=index)
    doc_type = rng.choice(DOC_TYPES)
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
    return Trial(
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
                f"{t.seconds * 1000:.0f} ms"
            )
    errors = [t.error for t in trials]
    times_ms = [t.seconds * 1000 for t in trials]
    print(f"pages: {len(trials)} at {args.dpi} dpi (skew within +-15, random quarter turns, noise/blur)")
    print(f"skew error: mean {statistics.fmean(errors):.3f} deg, max {max(errors):.3f} deg")
    print(f"sideways accuracy: {sum(t.sideways_ok for t in trials)}/{len(trials)}")
    print(f"min confidence: {min(t.confidence for t in trials):.2f}")
    print(
        f"measure_skew time per page: mean {statistics.fmean(times_ms):.1f} ms, "
        f"median {statistics.median(times_ms):.1f} ms, max {max(times_ms):.1f} ms"
    )


if __name__ == "__main__":
    main()
