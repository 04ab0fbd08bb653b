"""Web app latency over a large synthetic archive.

    .venv/bin/python bench/web.py [--pages 1000000] [--db PATH] [--requests 200]

Builds (once; reused when --db exists) the archive of bench/search.py (same builder: 5 pages a
document, 10,000 patients, 150 words a page, Zipf vocabulary), then adds 20 real documents of
5 pages each (a drawn page image in a real searchable PDF, ~200 words a page with their word
boxes, as the pipeline stores them) for the viewer and the page images, which the bulk-built
rows do not have. The words of the real documents are another family than the tests' pages
(bench/search.py's vocabulary, 28 lines of 8 words, Liberation Serif at another size and margin).

It then serves the app in this process (FastAPI's ASGI app called through its test client,
middleware, routing, sign-in check, templates and audit writes included) and prints p50/p95
of the *server* time of each request, as the app's access log measures it (from the request
entering the app to its last byte leaving it): the search page (POST /search, full page) for
one-word queries and patient-scoped one-word queries, the document viewer (GET /documents/ID,
with the session's last search drawn as hit boxes), a cached page image (200 with the body),
a revalidated one (304), and the first rendering of a page image (cache emptied). Then the
weight of a search results page showing 10 thumbnails: the HTML, htmx, app.js, app.css and the
10 thumbnails. Targets: search p95 <= 100 ms, viewer <= 50 ms, cached image <= 20 ms, first
rendering <= 300 ms, results page <= 300 kB.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from chartclerk.bench import search as search_bench  # the archive builder of bench/search.py
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.tests.webdata import add_document
from chartclerk.web import create_app

PASSWORD = "benchmark password 1"
REAL_DOCS = 20


class _Times(logging.Handler):
    """Collects the server time of each request from the app's access log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.last = float(str(args[-1]))  # "%s %s %d %.1f ms": the last is the time


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {q[49]:7.1f}  p95 {q[94]:7.1f}  max {max(samples):7.1f} ms"


def add_real_documents(archive: Archive, folder: Path, rng: random.Random) -> list[int]:
    ids = []
    mrns = [f"{10_000_000 + rng.randrange(10_000)}" for _ in range(REAL_DOCS)]
    for i in range(REAL_DOCS):
        pages = [[" ".join(rng.choices(search_bench.WORDS, k=8)) for _ in range(28)] for _ in range(5)]
        ids.append(
            add_document(
                archive,
                folder,
                pages,
                mrn=mrns[i],
                doc_type="discharge_summary",
                font="LiberationSerif",
                font_size=17,
                top=60,
                left=60,
            )  # fmt: skip
        )
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per kind")
    parser.add_argument("--db", type=Path, help="folder to build or reuse")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    home = args.db or Path(tempfile.mkdtemp(prefix="cc-web-"))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.yaml"
    config.write_text("inbox: inbox\narchive: archive\ndatabase: null\nworkers: 1\n")
    settings = load_settings(config)
    db = settings.archive / "chartclerk.db"
    fresh = not db.exists()
    rng = random.Random(args.seed + 7)
    with Archive.open(settings) as archive:
        if fresh:
            print(f"building {args.pages:,} pages ...", flush=True)
            print(f"built in {search_bench.build(db, args.pages, args.seed):.0f} s", flush=True)
            real = add_real_documents(archive, home / "scans", rng)
        else:
            real = [r for (r,) in archive.engine.connect().exec_driver_sql(
                "SELECT id FROM documents WHERE match_reason != 'bench' ORDER BY id")]  # fmt: skip
    with sqlite3.connect(db) as con:
        pages = con.execute("SELECT count(*) FROM pages").fetchone()[0]
    size = db.stat().st_size / 2**30
    print(f"{pages:,} pages ({len(real)} real documents of 5 pages); database {size:.2f} GiB")

    times = _Times()
    access = logging.getLogger("chartclerk.web.access")
    access.addHandler(times)
    access.setLevel(logging.INFO)
    access.propagate = False
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # sign-in is not measured
    app = create_app(settings, hasher=cheap)
    state = app.state.web
    if not any(u.name == "bench" for u in state.users.list()):
        state.users.add("bench", "clerk", PASSWORD)
    shutil.rmtree(settings.archive / "cache", ignore_errors=True)
    n = args.requests
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        login = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', login.text)
        assert token is not None
        client.post("/login", data={"name": "bench", "password": PASSWORD, "login_token": token.group(1)})
        client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]

        def timed(method: str, path: str, **kw: Any) -> tuple[float, Any]:
            times.last = None
            response = client.request(method, path, **kw)
            assert response.status_code in (200, 304), (path, response.status_code)
            assert times.last is not None
            return times.last, response

        words = [rng.choice(search_bench.WORDS) for _ in range(n)]
        mrns = [f"{10_000_000 + rng.randrange(10_000)}" for _ in range(n)]
        timed("POST", "/search", data={"q": "warm up"})
        results: dict[str, list[float]] = {"search page, one word": [], "search page, one word + patient": []}
        for word in words:
            results["search page, one word"].append(timed("POST", "/search", data={"q": word})[0])
        for word, mrn in zip(words, mrns, strict=True):
            ms = timed("POST", "/search", data={"q": word, "patient": mrn})[0]
            results["search page, one word + patient"].append(ms)
        timed("POST", "/search", data={"q": "patient"})  # the viewer draws this search's hits
        results["viewer page (5 pages, hit boxes)"] = [
            timed("GET", f"/documents/{rng.choice(real)}?hits=1")[0] for _ in range(n)
        ]
        first = []
        targets = [(d, p) for d in real for p in range(1, 6)]
        for doc, page in targets:
            first.append(timed("GET", f"/documents/{doc}/pages/{page}/screen")[0])
        results[f"page image, first rendering ({len(targets)})"] = first
        cached, revalidated = [], []
        for _ in range(n):
            doc, page = rng.choice(targets)
            ms, response = timed("GET", f"/documents/{doc}/pages/{page}/screen")
            cached.append(ms)
            etag = response.headers["etag"]
            revalidated.append(
                timed("GET", f"/documents/{doc}/pages/{page}/screen", headers={"If-None-Match": etag})[0]
            )
        results["page image, cached (200)"] = cached
        results["page image, revalidated (304)"] = revalidated
        print(f"{n} requests per kind (first rendering: each real page once); server time:")
        for name, samples in results.items():
            print(f"  {name:<36} {percentiles(samples)}")

        # weight of a results page with 10 thumbnails (first page of a common word's results)
        page = client.post("/search", data={"q": "patient"})
        thumbs = re.findall(r'<img src="(/documents/\d+/pages/\d+/thumb)"', page.text)
        static = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        sizes = {"html": len(page.content)}
        sizes["scripts and css"] = sum(len(client.get(s).content) for s in static)
        bench_docs_have_no_pdf = [t for t in thumbs if int(t.split("/")[2]) not in real]
        picks = [f"/documents/{d}/pages/1/thumb" for d in real[:10]] if bench_docs_have_no_pdf else thumbs
        sizes["10 thumbnails"] = sum(len(client.get(t).content) for t in picks[:10])
        total = sum(sizes.values())
        detail = ", ".join(f"{k} {v / 1000:.1f} kB" for k, v in sizes.items())
        print(f"results page with {len(thumbs)} results and 10 thumbnails: {total / 1000:.1f} kB ({detail})")
        if bench_docs_have_no_pdf:
            print("  (the bulk-built documents have no PDF: the thumbnails weighed are the real documents')")
    print("targets: search p95 <= 100 ms; viewer p95 <= 50 ms; cached image p95 <= 20 ms; "
          "first rendering p95 <= 300 ms; results page <= 300 kB")  # fmt: skip


if __name__ == "__main__":
    main()
