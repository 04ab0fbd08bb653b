"""bench/search.py on PostgreSQL: a --pg-url database is built when empty and reused after.

The million-page benchmark database takes half an hour to build, so later timing runs must
reuse it; this runs the script twice on a tiny archive in the tests' throwaway PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from chartclerk.tests.services import PostgresServer

BENCH = Path(__file__).resolve().parents[1] / "bench" / "search.py"


def run_bench(url: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--pages", "200", "--queries", "5", "--cli-runs", "0"]
        + ["--backend", "postgresql", "--pg-url", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def test_bench_builds_an_empty_pg_database_then_reuses_it(postgres: PostgresServer) -> None:
    url = postgres.create_database("bench")
    first = run_bench(url)
    assert "building 200 pages" in first and "built in" in first
    assert "200 pages; database" in first and "GIN key index" in first
    second = run_bench(url)
    assert "reusing " in second and "building" not in second
    assert "200 pages; database" in second  # the same pages, not built twice
    kinds = re.findall(r"^  (one word|phrase|one word \+ type) +p50 ", second, flags=re.MULTILINE)
    assert kinds == ["one word", "phrase", "one word + type"]
    assert "prewarmed" in second and "load average before timing" in second
