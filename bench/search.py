"""Search latency over a large synthetic archive.

    .venv/bin/python bench/search.py [--pages 1000000] [--queries 200] [--db PATH] [--cli-runs 5]
        [--backend sqlite|postgresql|both] [--pg-url URL]

Builds (once; reused when --db exists) an archive of `--pages` synthetic pages:
5 pages per document, 10,000 patients, 13 document types, each page 150 words.
Two thirds of the words come from a 30,000-word pseudo-vocabulary with a Zipf
distribution (the long tail of names, numbers and OCR debris real pages carry),
one third from a ~170-word medical vocabulary, itself Zipf-weighted so that
"patient" is on nearly every page and "triage" on few. Queries use the medical
words only, so they span common and rare terms. Rows go in through the same schema,
triggers and FTS5 index the pipeline writes (the Alembic head), bulk-inserted
with SQL rather than through OCR. Then it times `Archive.search` (the library
call behind `chartclerk search`, audit-log write included) for plain one- and
two-word queries, phrases, rarer medical words (their least frequent third: still
on 6-20% of the pages), rare words (the long tail: names, numbers), patient-filtered
and type-filtered one-word queries, and prints p50/p95/p99 in ms with the mean
number of hits; then the audit-log write alone (part of every search), and the wall
time of `chartclerk search` run as a new process (start-up and imports included).
An existing --db is reused as it is (opening it first upgrades its schema, which can
take minutes). ``--backend postgresql`` (or ``both``, one after the other in one run) builds
the same pages with COPY into a throwaway PostgreSQL (tests/services.py) or into ``--pg-url``,
and times the same queries through chartclerk.store.search_pg. A ``--pg-url`` database that
already holds pages is reused as it is, like --db (its schema upgraded through Alembic first),
so a million pages are built once. The load average is printed before and after each
backend's timing: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.settings import Settings, load_settings
from chartclerk.store import Archive

TYPES = DOC_TYPES
WORDS = (  # noqa: SIM905 - a word list reads better as text
    "patient hospital admitted discharged history physical examination assessment plan medication dose "
    "daily tablet oral intravenous pain chest abdominal fever cough shortness breath hypertension diabetes "
    "mellitus insulin metformin lisinopril atorvastatin aspirin heparin warfarin follow clinic appointment "
    "laboratory hemoglobin hematocrit platelet sodium potassium creatinine glucose albumin bilirubin "
    "radiology impression findings normal unremarkable opacity effusion fracture consolidation nodule "
    "mass lesion contrast ultrasound tomography magnetic resonance referral consultation cardiology "
    "nephrology oncology surgery procedure anesthesia incision sutures consent risks benefits "
    "alternatives signature witness insurance policy subscriber group claim payer authorization "
    "prescription refills dispense pharmacy allergies penicillin sulfa latex vaccination influenza "
    "pneumococcal smoking alcohol family mother father sibling cancer stroke myocardial infarction "
    "congestive heart failure atrial fibrillation pneumonia sepsis urinary tract infection anemia "
    "thyroid hypothyroidism asthma copd bronchitis dermatitis cellulitis osteoarthritis arthroplasty "
    "knee hip shoulder spine lumbar cervical physical therapy occupational rehabilitation nursing "
    "vital signs temperature pulse respirations blood pressure oxygen saturation weight height "
    "pediatric geriatric obstetric prenatal postpartum neonatal emergency department triage"
).split()


def _pseudo_words(count: int, rng: random.Random) -> list[str]:
    letters = "bcdfghjklmnprstvwz"
    vowels = "aeiou"
    return [
        "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(2, 4))) + str(i % 10)
        for i in range(count)
    ]


_PATIENTS = [(f"{10_000_000 + i}", f"{10_000_000 + i}", f"LAST{i}", f"FIRST{i}", "1960-01-01", "F", "L000")
             for i in range(10_000)]  # fmt: skip
_DOC_SQL = (
    "INSERT INTO documents (id, source_sha256, first_page, last_page, doc_type, loinc,"
    " type_confidence, patient_mrn, patient_confidence, status, review_reason, match_reason,"
    " candidates_json, pdf_path, pdf_sha256, created_at, updated_at) VALUES (?, '0', ?, ?, ?,"
    " NULL, 0.9, ?, 1.0, 'filed', NULL, 'bench', '[]', 'documents/x.pdf', 'x', '2026-01-01',"
    " '2026-01-01')"
)
_DOC_COPY = (
    "COPY documents (id, first_page, last_page, doc_type, patient_mrn, source_sha256, loinc,"
    " type_confidence, patient_confidence, status, review_reason, match_reason, candidates_json,"
    " pdf_path, pdf_sha256, created_at, updated_at) FROM STDIN"
)
_DOC_REST = (
    "0",
    None,
    0.9,
    1.0,
    "filed",
    None,
    "bench",
    "[]",
    "documents/x.pdf",
    "x",
    "2026-01-01",
    "2026-01-01",
)
_PAGE_COLUMNS = "id, document_id, number, source_page, skew_degrees, rotation_degrees, ocr_confidence, text"


def generate(pages: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(document row, its 5 page rows), the same for every backend."""
    rng = random.Random(seed)
    # cumulative weights computed once (rng.choices(weights=...) would add them up on every call:
    # the same draws)
    weights = list(accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(WORDS))))
    tail = _pseudo_words(30_000, rng)
    tail_weights = list(accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(len(tail))))
    page_id = 0
    for doc in range(1, pages // 5 + 1):
        mrn = _PATIENTS[rng.randrange(len(_PATIENTS))][0]
        rows = []
        for number in range(1, 6):
            page_id += 1
            words = rng.choices(WORDS, cum_weights=weights, k=50) + rng.choices(
                tail, cum_weights=tail_weights, k=100
            )
            rng.shuffle(words)
            rows.append((page_id, doc, number, number, 0.0, 0, 90.0, " ".join(words)))
        yield (doc, doc * 5 - 4, doc * 5, TYPES[doc % len(TYPES)], mrn), rows


def build(db: Path, pages: int, seed: int) -> float:
    start = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.executemany(
        "INSERT INTO patients (mrn, mrn_norm, last, first, dob, sex, last_key) VALUES (?,?,?,?,?,?,?)",
        _PATIENTS,
    )
    con.execute(
        "INSERT INTO sources (sha256, name, size, page_count, stored_path, status, created_at)"
        " VALUES ('0' , 'synthetic.pdf', 1, ?, 'originals/x', 'complete', '2026-01-01')",
        (pages,),
    )
    for document, rows in generate(pages, seed):
        con.execute(_DOC_SQL, document)
        con.executemany(f"INSERT INTO pages ({_PAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", rows)
        if document[0] % 20_000 == 0:
            con.commit()
            print(f"  {document[0] * 5:,} pages", flush=True)
    con.commit()
    con.execute("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')")
    con.commit()
    con.close()
    return time.perf_counter() - start


def build_pg(engine: Engine, pages: int, seed: int) -> float:
    """The same rows into PostgreSQL with COPY (pages.tsv and pages.scope are computed as they
    go in); the search key index (migration 0012) is dropped first and made again from its own
    definition after the load, as pg_restore does: one bulk build instead of a million inserts."""
    start = time.perf_counter()
    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        with pg.cursor() as cur:
            cur.execute("SELECT pg_get_indexdef('ix_pages_keys'::regclass)")
            index_sql = cur.fetchone()[0]
            cur.execute("DROP INDEX ix_pages_keys")
            with cur.copy(
                "COPY patients (mrn, mrn_norm, last, first, dob, sex, last_key) FROM STDIN"
            ) as copy:
                for row in _PATIENTS:
                    copy.write_row(row)
            cur.execute(
                "INSERT INTO sources (sha256, name, size, page_count, stored_path, status, created_at)"
                " VALUES ('0', 'synthetic.pdf', 1, %s, 'originals/x', 'complete', '2026-01-01')",
                (pages,),
            )
            batch: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []
            for item in generate(pages, seed):
                batch.append(item)
                if len(batch) == 4_000 or item[0][0] == pages // 5:
                    with cur.copy(_DOC_COPY) as copy:
                        for document, _ in batch:
                            copy.write_row((*document, *_DOC_REST))
                    with cur.copy(f"COPY pages ({_PAGE_COLUMNS}) FROM STDIN") as copy:
                        for _, rows in batch:
                            for row in rows:
                                copy.write_row(row)
                    pg.commit()
                    print(f"  {item[0][0] * 5:,} pages", flush=True)
                    batch = []
            for table in ("documents", "pages"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            pg.commit()
            print("  building the search key index ...", flush=True)
            cur.execute("SET maintenance_work_mem = '1GB'")
            cur.execute(index_sql)
            pg.commit()
            pg.autocommit = True
            cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {q[49]:7.1f}  p95 {q[94]:7.1f}  p99 {q[98]:7.1f}  max {max(samples):7.1f}"


def timed(archive: Archive, queries: list[tuple[str, dict[str, str]]]) -> tuple[list[float], float]:
    """Milliseconds per query and the mean number of hits."""
    times, hits = [], 0
    for query, filters in queries:
        t = time.perf_counter()
        hits += len(archive.search(query, limit=20, **filters))
        times.append((time.perf_counter() - t) * 1000)
    return times, hits / len(queries)


def cli_wall_times(config: Path, queries: list[str]) -> list[float]:
    """Seconds for `chartclerk search QUERY` in a new process each time."""
    times = []
    for query in queries:
        t = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "chartclerk"), "--config", str(config), "search", query],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", type=Path, help="SQLite: archive folder to build or reuse")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--cli-runs", type=int, default=5, help="cold `chartclerk search` runs to time")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default="sqlite",
        help="postgresql: a throwaway server (Debian postgresql), or --pg-url",
    )
    parser.add_argument(
        "--pg-url",
        help="a PostgreSQL database (postgresql+psycopg://...): built when empty, else reused as it is"
        " (its schema upgraded through Alembic first)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    server = None
    try:
        for backend in backends:
            home = args.db if backend == "sqlite" and args.db else Path(tempfile.mkdtemp(prefix="cc-search-"))
            home.mkdir(parents=True, exist_ok=True)
            url = "null"
            if backend == "postgresql":
                if args.pg_url:
                    url = args.pg_url
                else:
                    from chartclerk.tests.services import PostgresServer

                    server = PostgresServer.start()
                    url = server.create_database("bench")
            config = home / "config.yaml"
            config.write_text(
                f"inbox: inbox\narchive: archive\ndatabase: '{url}'\nworkers: 1\n".replace("'null'", "null")
            )
            print(f"== {backend}")
            run(load_settings(config), config, args)
    finally:
        if server is not None:
            server.stop()


def run(settings: Settings, config: Path, args: argparse.Namespace) -> None:
    db = settings.archive / "chartclerk.db"
    sqlite = settings.database_url.startswith("sqlite")
    t = time.perf_counter()
    with Archive.open(settings) as archive:  # creates the schema at the Alembic head (or upgrades it)
        with archive.engine.connect() as conn:
            fresh = conn.execute(text("SELECT id FROM pages LIMIT 1")).first() is None
        where = db if sqlite else archive.engine.url.render_as_string(hide_password=True)
        if not fresh:
            print(f"reusing {where}; opened (schema upgrade if any) in {time.perf_counter() - t:.0f} s")
        else:
            print(f"building {args.pages:,} pages ...", flush=True)
            took = (
                build(db, args.pages, args.seed)
                if sqlite
                else build_pg(archive.engine, args.pages, args.seed)
            )
            print(f"built in {took:.0f} s")
        with archive.engine.connect() as conn:
            pages = conn.execute(text("SELECT count(*) FROM pages")).scalar()
            if sqlite:
                size = f"database {db.stat().st_size / 2**30:.2f} GiB"
            else:
                total, index = conn.execute(
                    text("SELECT pg_database_size(current_database()), pg_relation_size('ix_pages_keys')")
                ).one()
                size = f"database {total / 2**30:.2f} GiB, of which the GIN key index {index / 2**30:.2f} GiB"
    print(f"{pages:,} pages; {size}")
    rng = random.Random(args.seed + 1)
    n = args.queries
    rarer = WORDS[len(WORDS) * 2 // 3 :]  # the pages draw WORDS Zipf-weighted in this order
    tail = _pseudo_words(30_000, random.Random(args.seed))[3_000:]  # as build() made them
    words = [rng.choice(WORDS) for _ in range(n)]
    mrns = [f"{10_000_000 + rng.randrange(10_000)}" for _ in range(n)]
    kinds: dict[str, list[tuple[str, dict[str, str]]]] = {
        "one word": [(w, {}) for w in words],
        "two words": [(f"{rng.choice(WORDS)} {rng.choice(WORDS)}", {}) for _ in range(n)],
        "phrase": [(f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"', {}) for _ in range(n)],
        "rarer medical word": [(rng.choice(rarer), {}) for _ in range(n)],
        "rare word": [(rng.choice(tail), {}) for _ in range(n)],
        "one word + patient": [(w, {"patient": mrns[i]}) for i, w in enumerate(words)],
        "one word + type": [(w, {"doc_type": TYPES[i % len(TYPES)]}) for i, w in enumerate(words)],
    }
    with Archive.open(settings) as archive:
        if not sqlite:  # the table and the key index into shared buffers, as a busy server holds them
            with archive.engine.begin() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
                warmed = conn.execute(
                    text("SELECT pg_prewarm('pages') + pg_prewarm('ix_pages_keys')")
                ).scalar()
                buffers = conn.execute(text("SHOW shared_buffers")).scalar()
            print(f"prewarmed {warmed:,} blocks of pages and the key index (shared_buffers {buffers})")
        archive.search("warm up the page cache", limit=20)
        print(f"load average before timing: {_load()}")
        print(f"{n} queries per kind, limit 20, times in ms (Archive.search, audit write included):")
        for name, queries in kinds.items():
            times, mean_hits = timed(archive, queries)
            print(f"  {name:<20} {percentiles(times)}  hits {mean_hits:5.1f}")
        audit = []
        for query, _ in kinds["one word + patient"]:
            t = time.perf_counter()
            archive.record_access("search", {"query": query, "documents": []}, [])
            audit.append((time.perf_counter() - t) * 1000)
        print(f"  {'audit write alone':<20} {percentiles(audit)}")
    if args.cli_runs:
        wall = cli_wall_times(config, [rng.choice(WORDS) for _ in range(args.cli_runs)])
        print(
            f"`chartclerk search WORD` in a new process, {args.cli_runs} runs: "
            f"median {statistics.median(wall):.2f} s, max {max(wall):.2f} s"
        )
    print(f"load average after timing: {_load()}")
    print("targets: p95 <= 50 ms over 1,000,000 pages; patient-filtered p95 <= 10 ms")


def _load() -> str:
    """The 1, 5 and 15 minute load averages (2 cores here: above 2, queries wait for a core)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
