"""Near-duplicate scans: rescans of held-out documents among distinct look-alike documents.

    .venv/bin/python bench/dedupe.py [--docs 40] [--seed 16] [--index-docs 1000000]

Its own held-out family (not in the tests): lab results, explanations of benefits, imaging
reports and medication lists from fictional offices, in fonts the tests do not use. For each
of ``--docs`` originals it makes a template sibling (same office, same template, same
patient, another day: other dates, values, amounts and accession numbers; the pair the
check must NOT flag) and a rescan of the original (the same paper scanned again: new skew,
noise, blur, resolution, bitonal or faxed). Originals and siblings are ingested first, the
rescans after, all through the real pipeline (tesseract; no roster, so every document is in
review and each is compared with every other: the widest scope). A rescan counts as found
when it is marked ``possible duplicate of`` its original; any other mark is a false one.

Then the cost of the check at ``--index-docs`` archived documents: that many synthetic
signatures (random MinHash values, plus one template cluster of 5% of them sharing every
band key, the worst case for a bucket) are bulk-inserted into a fresh archive database,
and ``find_duplicate`` is timed for 200 new documents.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from chartclerk import assemble, pipeline
from chartclerk.bench.findability import FONTS, Page, render
from chartclerk.classify import Classification
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.store.db import session_scope
from chartclerk.store.dedupe import (
    BANDS,
    NUM_PERM,
    Signature,
    _band_keys,
    find_duplicate,
    number_similarity,
    run_similarity,
    signature_of,
    text_similarity,
)
from chartclerk.store.tables import DocumentRow
from chartclerk.tests.scans import write_pdf
from chartclerk.workers import make_pool

OFFICES = (
    "Harrow Creek Laboratory",
    "Pelican Bay Imaging",
    "Stonebridge Health Plan",
    "Larkspur Pharmacy Services",
)
SURNAMES = ("ABERNETHY", "OKONKWO", "VILLANUEVA", "FITZGERALD", "NAKAMURA", "LINDQVIST", "BRENNAN", "DESAI")
GIVEN = ("Marguerite", "Tobias", "Ingrid", "Rafael", "Noor", "Cassius", "Yolanda", "Emeka")
ANALYTES = ("Sodium", "Potassium", "Chloride", "CO2", "BUN", "Creatinine", "Glucose", "Calcium", "Magnesium",
            "Phosphorus", "Total Protein", "Albumin", "ALT", "AST", "Alk Phos", "Bilirubin")  # fmt: skip
SERVICES = ("Office visit level 3", "Comprehensive metabolic panel", "Chest x-ray two views", "Influenza vaccine",
            "Physical therapy session", "Venipuncture", "Electrocardiogram", "Urinalysis")  # fmt: skip
DRUGS = ("amlodipine 5 mg", "sertraline 50 mg", "levothyroxine 75 mcg", "metoprolol 25 mg", "omeprazole 20 mg",
         "losartan 50 mg", "gabapentin 300 mg", "atorvastatin 40 mg")  # fmt: skip


def document(rng: random.Random, kind: int, office: str, patient: str, dob: str) -> list[str]:
    """One document of template ``kind``; values, dates and numbers drawn from ``rng``."""
    day = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2026"
    lines = [
        office,
        f"Patient: {patient}   DOB: {dob}",
        f"Date: {day}   Ref: {rng.randint(10**6, 10**7 - 1)}",
    ]
    if kind == 0:
        lines.insert(1, "CHEMISTRY RESULTS")
        for name in rng.sample(ANALYTES, 10):
            lines.append(
                f"{name:<16} {rng.uniform(0.5, 140):7.1f}   ref {rng.randint(1, 9)}-{rng.randint(10, 150)}"
            )
    elif kind == 1:
        lines.insert(1, "EXPLANATION OF BENEFITS - THIS IS NOT A BILL")
        for service in rng.sample(SERVICES, 6):
            billed = rng.uniform(20, 900)
            lines.append(
                f"{service:<30} billed ${billed:7.2f} allowed ${billed * 0.7:7.2f} you owe ${billed * 0.1:6.2f}"
            )
        lines.append(f"Claim {rng.randint(10**9, 10**10 - 1)} processed {day}")
    elif kind == 2:
        lines.insert(1, "IMAGING REPORT")
        size = rng.uniform(0.3, 4.0)
        lines += [
            f"Exam: CT abdomen with contrast, accession {rng.randint(10**7, 10**8 - 1)}",
            f"Findings: a {size:.1f} cm hypodense lesion in segment {rng.randint(2, 8)} of the liver.",
            f"The spleen measures {rng.uniform(8, 13):.1f} cm. No free fluid. Kidneys enhance symmetrically.",
            f"Impression: lesion measuring {size:.1f} cm, follow-up in {rng.choice((3, 6, 12))} months advised.",
        ]
    else:
        lines.insert(1, "MEDICATION LIST")
        for drug in rng.sample(DRUGS, 6):
            lines.append(
                f"{drug:<24} take {rng.randint(1, 2)} daily  qty {rng.randint(30, 90)}  refills {rng.randint(0, 5)}"
            )
    lines.append("Page 1 of 1")
    return lines


def degraded(rng: random.Random, name: str, lines: list[str], font: Path) -> Page:
    return Page(
        name=name,
        codes=(),
        lines=tuple(lines),
        font=font,
        points=rng.choice((9.0, 10.0, 11.0)),
        dpi=rng.choice((200, 300)),
        bitonal=rng.random() < 0.5,
        fax=rng.random() < 0.2,
        noise=rng.choice((0.0, 0.001, 0.003)),
        blur=rng.choice((0, 0, 3)),
        skew=round(rng.uniform(-3.0, 3.0), 2),
    )


def ocr_benchmark(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="chartclerk-dedupe-") as tmp:
        work = Path(tmp)
        first, second = work / "first", work / "second"
        first.mkdir()
        second.mkdir()
        for i in range(args.docs):
            kind, office = i % 4, rng.choice(OFFICES)
            patient = f"{rng.choice(SURNAMES)}, {rng.choice(GIVEN)}"
            dob = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1930, 2015)}"
            font = rng.choice(FONTS)
            original = document(rng, kind, office, patient, dob)
            sibling = document(rng, kind, office, patient, dob)
            for folder, name, lines in (
                (first, f"orig-{i:03d}.pdf", original),
                (first, f"sibl-{i:03d}.pdf", sibling),
                (second, f"scan-{i:03d}.pdf", original),
            ):
                page = degraded(rng, name, lines, font)
                write_pdf(folder / name, [render(page, rng.randrange(10**6))], dpi=page.dpi)
        config = work / "config.yaml"
        config.write_text(
            f"archive: {work / 'archive'}\ninbox: {work / 'inbox'}\nworkers: 2\n", encoding="utf-8"
        )
        settings = load_settings(config)
        with Archive.open(settings) as archive:
            start = time.perf_counter()
            with (
                mock.patch.object(
                    assemble, "classify_document", lambda text, s: Classification("other", None, 1.0)
                ),
                make_pool(2) as pool,
            ):
                pipeline.ingest_files([first], settings, archive, pool)
                pipeline.ingest_files([second], settings, archive, pool)
            seconds = time.perf_counter() - start
            docs = archive.list_documents()
            texts = {
                d["source"]: [p["text"] for p in archive.get_document(d["id"], with_text=True)["pages"]]
                for d in docs
            }
        by_name = {d["source"]: d for d in docs}
        if args.dump:
            args.dump.write_text(json.dumps(texts), encoding="utf-8")
        found = wrong = 0
        for d in docs:
            if d["duplicate_of"] is None:
                continue
            target = next(x["source"] for x in docs if x["id"] == d["duplicate_of"])
            right = d["source"].startswith("scan-") and target == d["source"].replace("scan-", "orig-")
            found += right
            wrong += not right
            if not right and args.verbose:
                print(f"  false mark: {d['source']} -> {target} ({d['duplicate_similarity']})")
        for i in range(args.docs):
            scan = by_name.get(f"scan-{i:03d}.pdf")
            if args.verbose and scan is not None and scan["duplicate_of"] is None:
                a, b = signature_of(texts[f"scan-{i:03d}.pdf"]), signature_of(texts[f"orig-{i:03d}.pdf"])
                print(f"  missed rescan scan-{i:03d}.pdf: text {text_similarity(a.minhash, b.minhash):.2f}, "
                      f"numbers {number_similarity(a.numbers, b.numbers):.2f}, "
                      f"runs {run_similarity(a.numbers, b.numbers):.2f}")  # fmt: skip
        if args.verbose:
            for i in range(args.docs):
                a, b = signature_of(texts[f"sibl-{i:03d}.pdf"]), signature_of(texts[f"orig-{i:03d}.pdf"])
                print(f"  sibling {i:03d}: text {text_similarity(a.minhash, b.minhash):.2f}, "
                      f"numbers {number_similarity(a.numbers, b.numbers):.2f}, "
                      f"runs {run_similarity(a.numbers, b.numbers):.2f}")  # fmt: skip
        marks = found + wrong
        print(f"documents: {args.docs} originals, {args.docs} template siblings (same office, template and patient, "
              f"another day), {args.docs} rescans; read by tesseract in {seconds:.0f} s")  # fmt: skip
        print(
            f"rescans marked as duplicates of their original: {found}/{args.docs} (recall {found / args.docs:.3f})"
        )
        print(f"marks: {marks}, false {wrong} (precision {found / marks if marks else 1.0:.3f}); "
              f"template siblings marked: {sum(1 for d in docs if d['source'].startswith('sibl-') and d['duplicate_of'])}")  # fmt: skip


def index_benchmark(size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="chartclerk-dedupe-index-") as tmp:
        work = Path(tmp)
        config = work / "config.yaml"
        config.write_text(f"archive: {work / 'archive'}\ninbox: {work / 'inbox'}\n", encoding="utf-8")
        settings = load_settings(config)
        Archive.open(settings).close()  # the schema at the Alembic head
        start = time.perf_counter()
        con = sqlite3.connect(work / "archive" / "chartclerk.db")
        con.execute("PRAGMA synchronous=OFF")
        con.execute(
            "INSERT INTO sources (sha256, name, stored_path, size, page_count, status, created_at)"
            " VALUES ('0' , 'bulk.pdf', 'x', 1, 1, 'complete', '2026-01-01')"
        )
        template = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
        cluster = size // 20
        for block in range(0, size, 50_000):
            ids = range(block + 1, min(size, block + 50_000) + 1)
            con.executemany(
                "INSERT INTO documents (id, source_sha256, first_page, last_page, doc_type, type_confidence,"
                " status, match_reason, candidates_json, pdf_path, pdf_sha256, created_at, updated_at)"
                " VALUES (?, '0', ?, ?, 'other', 1, 'review', '', '[]', 'x', 'x', '2026-01-01', '2026-01-01')",
                [(i, i, i) for i in ids],
            )
            sigs = rng.integers(0, 2**32, (len(ids), NUM_PERM), dtype=np.uint64).astype(np.uint32)
            sigs[: max(0, min(len(ids), cluster - block))] = template
            con.executemany(
                "INSERT INTO doc_signatures (document_id, minhash, numbers) VALUES (?, ?, '')",
                [(i, sig.tobytes()) for i, sig in zip(ids, sigs, strict=True)],
            )
            con.executemany(
                "INSERT INTO doc_buckets (key, document_id) VALUES (?, ?)",
                [(key, i) for i, sig in zip(ids, sigs, strict=True) for key in _band_keys(sig)],
            )
            con.commit()
        con.close()
        built = time.perf_counter() - start
        times: list[float] = []
        with Archive.open(settings) as archive, session_scope(archive.engine) as session:
            for n in range(200):
                sig = (
                    template if n % 2 else rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
                )
                probe = DocumentRow(id=size + 1 + n, patient_mrn=None)
                t = time.perf_counter()
                find_duplicate(session, probe, Signature(sig, ""))
                times.append(time.perf_counter() - t)
        times.sort()
        print(f"\nindex: {size:,} archived signatures ({BANDS} band keys each; a template cluster of {cluster:,} "
              f"sharing every key), built in {built:.0f} s")  # fmt: skip
        print(f"check per new document (half of them in the cluster): median {1000 * statistics.median(times):.1f} ms, "
              f"p95 {1000 * times[int(len(times) * 0.95)]:.1f} ms, max {1000 * times[-1]:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--index-docs", type=int, default=1_000_000, help="0: skip the index cost")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--dump", type=Path, help="write each document's OCR text here (JSON), for tuning")
    args = parser.parse_args()
    if args.docs:
        ocr_benchmark(args)
    if args.index_docs:
        index_benchmark(args.index_docs, args.seed)


if __name__ == "__main__":
    main()
