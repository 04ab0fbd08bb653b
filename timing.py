"""Where the time goes: per-stage wall-clock laps, summed across pages and files."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

StageTimes = tuple[tuple[str, float], ...]


class Stopwatch:
    """Laps for one unit of work (a page, a file); local to one call, never shared."""

    def __init__(self) -> None:
        self._laps: dict[str, float] = {}

    @contextmanager
    def lap(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._laps[stage] = self._laps.get(stage, 0.0) + time.perf_counter() - start

    def times(self) -> StageTimes:
        return tuple(self._laps.items())


def add_times(parts: Iterable[StageTimes]) -> dict[str, float]:
    """Sum of stage times, stage by stage."""
    total: dict[str, float] = {}
    for part in parts:
        for stage, seconds in part:
            total[stage] = total.get(stage, 0.0) + seconds
    return total
