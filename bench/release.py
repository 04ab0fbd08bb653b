"""Release-of-information benchmark: a 500-page packet and a FHIR export of 100,000 documents.

    .venv/bin/python bench/release.py [--pages 500] [--fhir-docs 100000] [--dir DIR]

1. Packet. Builds an archive of 100 documents of 5 pages (``--pages``/5 documents) through
   ``Archive.archive_document``, as the pipeline stores them: each page a 150-dpi letter page
   image (JPEG, with scanner noise) with an invisible text layer. The pages are a held-out
   family the tests do not use: Liberation Serif at 26 px, other wording (an imaging and
   medication vocabulary), another margin. Then, each in a fresh process, it releases a request
   for a fifth of the pages and one for all of them (``release_packet``: cover letter, every
   page stamped in an added margin strip, SHA-256, disclosure entry) and prints the wall time
   and the peak memory growth, as tests/test_memory.py measures it (``VmHWM`` after resetting
   it through /proc/self/clear_refs, minus ``VmRSS`` before the call). Flat memory: the growth
   for all pages is about that for a fifth of them (the page images are not held).
   Targets: under 20 s for 500 pages, flat memory.
2. FHIR export. Bulk-inserts (SQL) 100,000 filed documents of 2,000 patients pointing to 200
   real one-page document PDFs (their size is printed: the export reads and SHA-1 hashes every
   document's PDF), then runs ``export_ndjson`` (Patient and DocumentReference NDJSON) in a fresh
   process on a tenth of the archive and on all of it, and prints time, resources written and
   peak memory growth. Targets: under 60 s, memory flat (streaming).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chartclerk.classify.models import Patient
from chartclerk.classify.training.render import FONTS
from chartclerk.settings import load_settings
from chartclerk.store import Archive, DocumentRecord, PageRecord, SourceRecord, make_page_pdf
from chartclerk.tests.releasedata import text_layer

DPI = 150
SIZE = (1275, 1650)  # letter at 150 dpi
WORDS = (  # noqa: SIM905
    "contrast enhanced axial images demonstrate no acute intracranial hemorrhage metformin "
    "lisinopril atorvastatin impression unremarkable chest radiograph cardiomediastinal "
    "silhouette within normal limits pulmonary vasculature opacity effusion pneumothorax dose "
    "tablet daily twice refill pharmacy allergy reconciliation follow ultrasound doppler"
).split()

_CHILD = r"""
import json, re, sys, time
from pathlib import Path

def kib(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\s+(\d+)", f.read()).group(1))

from chartclerk.settings import load_settings
from chartclerk.store import Archive
mode, config, arg, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
settings = load_settings(config)
with Archive.open(settings) as archive:
    if mode == "packet":
        from chartclerk.store.release import release_packet
        import pikepdf  # imported before the measurement, as the pipeline's workers have it
        call = lambda: release_packet(archive, settings.release, int(arg), out)
    else:
        from chartclerk.store.fhir import export_ndjson
        call = lambda: export_ndjson(archive, settings.release, out)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = kib("VmRSS")
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    growth = (kib("VmHWM") - before) * 1024
    extra = {"pages": result.packet.pages} if mode == "packet" else result
    shown = {"counts": extra} if mode != "packet" else extra
    print(json.dumps({"seconds": seconds, "growth_bytes": growth, **shown}))
"""


def draw(rng: random.Random) -> tuple[np.ndarray, str]:
    face = ImageFont.truetype(str(FONTS["LiberationSerif"][0]), 26)
    image = Image.new("L", SIZE, 255)
    pen = ImageDraw.Draw(image)
    lines = [" ".join(rng.choice(WORDS) for _ in range(9)) for _ in range(34)]
    for i, line in enumerate(lines):
        pen.text((120, 130 + 40 * i), line, font=face, fill=0)
    pixels = np.asarray(image, dtype=np.int16)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12, pixels.shape)
    return np.clip(pixels + noise, 0, 255).astype(np.uint8), " ".join(lines[:3])


def run_child(mode: str, config: Path, arg: str, out: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(config), arg, str(out)],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def config_for(folder: Path) -> Path:
    config = folder / "config.yaml"
    config.write_text("inbox: inbox\narchive: archive\ndatabase: null\nworkers: 1\n", encoding="utf-8")
    return config


def bench_packet(folder: Path, pages: int) -> None:
    from chartclerk.store.release import Scope, new_request

    config = config_for(folder)
    settings = load_settings(config)
    rng = random.Random(14)
    patient = Patient("B-000777", "Hallström", "Ingrid", dt.date(1958, 6, 1), "F")
    page_files = []
    t0 = time.perf_counter()
    tmp = folder / "pages"
    tmp.mkdir()
    for i in range(25):  # distinct page PDFs, reused across documents
        image, words = draw(rng)
        path = tmp / f"page-{i}.pdf"
        path.write_bytes(make_page_pdf(image, DPI, text_layer(words, SIZE[0] * 72 / DPI, SIZE[1] * 72 / DPI)))
        page_files.append(path)
    per_page = sum(p.stat().st_size for p in page_files) / len(page_files)
    docs = pages // 5
    ids = []
    with Archive.open(settings) as archive:
        archive.import_patients([patient])
        for d in range(docs):
            data = f"bench scan {d}".encode() * 50
            src = tmp / f"scan-{d}.pdf"
            src.write_bytes(data)
            source = SourceRecord(src, src.name, hashlib.sha256(data).hexdigest(), len(data), 5)
            archive.store_original(source)
            record = DocumentRecord(
                source=source, source_pages=(1, 5), doc_type=rng.choice(["radiology_report", "prescription"]),
                loinc=None, type_confidence=0.9, patient_mrn=patient.mrn, patient_confidence=0.99,
                status="filed", review_reason=None, match_reason="bench", candidates=(),
                pages=tuple(PageRecord(n, n, 0.0, 0, 90.0, "x", page_files[(d * 5 + n) % 25])
                            for n in range(1, 6)),
            )  # fmt: skip
            ids.append(archive.archive_document(record).id)
            archive.complete_source(source.sha256)
        requests = [
            new_request(
                archive, settings.release, patient=patient.mrn, requester="Bench Insurance",
                address="1 Bench Way", purpose="claim", basis="payment", scope=Scope(documents=tuple(chosen)),
            )
            for chosen in (ids[: docs // 5], ids)
        ]  # fmt: skip
        fifth, whole = requests
    print(f"archive built: {docs} documents, {docs * 5} pages ({per_page / 1024:.0f} kB a page) in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    small = run_child("packet", config, str(fifth.id), folder / "fifth.pdf")
    big = run_child("packet", config, str(whole.id), folder / "whole.pdf")
    size = (folder / "whole.pdf").stat().st_size
    for name, r in (("fifth", small), ("all", big)):
        print(f"packet ({name}): {int(r['pages'])} pages in {r['seconds']:.2f} s, peak memory growth "
              f"{r['growth_bytes'] / 2**20:.1f} MiB")  # fmt: skip
    print(f"packet file {size / 2**20:.1f} MiB; growth from {int(small['pages'])} to "
          f"{int(big['pages'])} pages: "
          f"{(big['growth_bytes'] - small['growth_bytes']) / 2**20:.1f} MiB "
          f"(holding the extra pages would take "
          f"{(big['pages'] - small['pages']) * per_page / 2**20:.0f} MiB)")  # fmt: skip
    target = "met" if big["seconds"] < 20 else "MISSED"
    print(f"target 500 pages < 20 s: {target}")


def bench_fhir(folder: Path, docs: int) -> None:
    config = config_for(folder)
    settings = load_settings(config)
    with Archive.open(settings) as archive:  # creates the schema
        archive.import_patients(
            Patient(f"F{p:06d}", f"Last{p}", f"First{p}", dt.date(1950 + p % 50, 1 + p % 12, 1 + p % 28),
                    "MF"[p % 2])
            for p in range(2000)
        )  # fmt: skip
    root = settings.archive
    rng = random.Random(7)
    pdfs = []
    (root / "documents" / "bb").mkdir(parents=True, exist_ok=True)
    for i in range(200):
        image, words = draw(rng)
        image = image[::2, ::2].copy()  # 75 dpi: a small one-page document
        rel = f"documents/bb/bench-{i}.pdf"
        data = make_page_pdf(image, DPI / 2, text_layer(words, SIZE[0] * 72 / DPI, SIZE[1] * 72 / DPI))
        (root / rel).write_bytes(data)
        pdfs.append((rel, hashlib.sha256(data).hexdigest(), len(data)))
    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)

    def insert(conn: sqlite3.Connection, start: int, stop: int) -> None:
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        sources = [(f"{k:064x}", f"s{k}.pdf", 1, 1000, f"originals/{k}", "complete", stamp)
                   for k in range(start // 1000, (stop + 999) // 1000)]  # fmt: skip
        conn.executemany("INSERT OR IGNORE INTO sources VALUES (?,?,?,?,?,?,?)", sources)
        rows = []
        for n in range(start, stop):
            rel, sha, _ = pdfs[n % len(pdfs)]
            when = (now - dt.timedelta(minutes=7 * n)).strftime("%Y-%m-%d %H:%M:%S.%f")
            rows.append((n + 1, f"{n // 1000:064x}", n % 1000 + 1, n % 1000 + 1, "lab_report", "11502-2",
                         0.9, f"F{n % 2000:06d}", 0.99, "filed", None, "bench", "[]", rel, sha, when,
                         when))  # fmt: skip
        conn.executemany(
            "INSERT INTO documents (id, source_sha256, first_page, last_page, doc_type, loinc, "
            "type_confidence, patient_mrn, patient_confidence, status, review_reason, match_reason, "
            "candidates_json, pdf_path, pdf_sha256, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    db = root / "chartclerk.db"
    tenth = docs // 10
    with sqlite3.connect(db) as conn:
        insert(conn, 0, tenth)
    shutil.copytree(folder, folder.parent / "fhir-small", dirs_exist_ok=False)
    with sqlite3.connect(db) as conn:
        insert(conn, tenth, docs)
    small_cfg = config_for(folder.parent / "fhir-small")
    small = run_child("fhir", small_cfg, "", folder.parent / "fhir-small" / "export")
    big = run_child("fhir", config, "", folder / "export")
    size = sum(p.stat().st_size for p in (folder / "export").iterdir())
    for name, r in ((f"{tenth:,} documents", small), (f"{docs:,} documents", big)):
        print(f"FHIR export ({name}): {r['counts']} in {r['seconds']:.2f} s, peak memory growth "
              f"{r['growth_bytes'] / 2**20:.1f} MiB")  # fmt: skip
    print(
        f"NDJSON written: {size / 2**20:.0f} MiB; "
        f"PDFs hashed: {sum(p[2] for p in pdfs) / len(pdfs) / 1024:.0f} kB each"
    )
    print(f"target {docs:,} documents < 60 s: {'met' if big['seconds'] < 60 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--fhir-docs", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="Work folder (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chartclerk-release-bench-") as tmp:
        base = args.dir or Path(tmp)
        (base / "packet").mkdir(parents=True)
        (base / "fhir").mkdir(parents=True)
        bench_packet(base / "packet", args.pages)
        bench_fhir(base / "fhir", args.fhir_docs)


if __name__ == "__main__":
    main()
