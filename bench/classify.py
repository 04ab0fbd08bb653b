"""Document-type benchmark on paperwork the classifier has never seen.

    .venv/bin/python bench/classify.py [--per-type 10] [--workers 2] [--seed 1]

The documents come from a separate *held-out template family* (``bench/heldout.py``):
titles, headings, sentences, field labels and page layouts that are in neither the
training corpus (``chartclerk/classify/corpus.py``) nor the test scans; one in five
has no title line at all. Each is rendered at 200 or 300 dpi, scanned like a real
batch (skew up to 4 degrees, some pages turned a quarter or half turn, speckle, blur),
written as PDF, TIFF or PNG, and run through the real pipeline (``ingest_files`` with a
process pool) into a fresh archive, with every patient in the roster.

It prints what it measured: accuracy, macro-F1 and per-type F1, the confusion pairs,
the share of documents sent to review for their type (``classify.min_confidence``),
and whether any document was filed to a patient other than its own.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from chartclerk.bench.heldout import held_out_document
from chartclerk.classify import DOC_TYPES, Patient
from chartclerk.classify.model import current_model
from chartclerk.classify.render import render_pages, scan_like
from chartclerk.pipeline import ingest_files
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.tests.scans import make_roster, render_document, write_pdf, write_png, write_tiff
from chartclerk.workers import make_pool


def make_scans(
    folder: Path, per_type: int, seed: int, family: str = "heldout"
) -> tuple[dict[str, tuple[str, str, bool]], list[Patient]]:
    """Scans in ``folder``; returns file name -> (true type, patient MRN, titled), and the roster."""
    roster = make_roster(per_type * len(DOC_TYPES), seed=seed)
    rng = random.Random(f"bench:{seed}")
    truth: dict[str, tuple[str, str, bool]] = {}
    n = 0
    for i in range(per_type):
        for doc_type in DOC_TYPES:
            patient = roster[n]
            titled = (n % 5) != 2
            dpi = rng.choice((200, 300))
            if family == "heldout":
                doc = held_out_document(doc_type, patient, seed * 1000 + i, titled)
                upright = render_pages(doc.blocks, doc.layout, dpi)
            else:  # the test scans' own templates (tests/scans.py), never used to train either
                pages_n = 2 if i % 4 == 3 else 1
                rendered = render_document(
                    doc_type, patient, seed=seed * 1000 + i, dpi=dpi, pages=pages_n, title=titled
                )
                upright = list(rendered.pages)
            pages = [
                scan_like(
                    page,
                    skew_degrees=rng.uniform(-4, 4) if rng.random() < 0.6 else 0.0,
                    quarter_turns_ccw=rng.choice((0, 0, 0, 0, 0, 1, 2, 3)),
                    blur=rng.choice((0, 0, 3)),
                    noise=rng.choice((0.0, 0.001, 0.003)),
                    seed=n,
                )
                for page in upright
            ]
            kind = rng.choice(("pdf", "pdf", "tif", "png"))
            name = f"{n:03d}-{doc_type}.{kind}"
            if kind == "pdf":
                write_pdf(folder / name, pages, dpi=dpi)
            elif kind == "tif":
                write_tiff(folder / name, pages, dpi=dpi, group4=rng.random() < 0.5)
            else:
                write_png(folder / name, pages[0], dpi=dpi)
            truth[name] = (doc_type, patient.mrn, titled)
            n += 1
    patients = [Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in roster]
    return truth, patients


def f1_scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for t in DOC_TYPES:
        tp = sum(1 for a, b in pairs if a == t and b == t)
        fp = sum(1 for a, b in pairs if a != t and b == t)
        fn = sum(1 for a, b in pairs if a == t and b != t)
        scores[t] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-type", type=int, default=10, help="documents per type (13 types)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--family",
        choices=("heldout", "scans"),
        default="heldout",
        help="heldout: bench/heldout.py (default); scans: the test scans' templates (tests/scans.py)",
    )
    parser.add_argument("--verbose", action="store_true", help="one line per misclassified document")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="chartclerk-bench-") as tmp:
        root = Path(tmp)
        scans = root / "scans"
        scans.mkdir()
        started = time.perf_counter()
        truth, patients = make_scans(scans, args.per_type, args.seed, args.family)
        rendered = time.perf_counter() - started
        config = root / "config.yaml"
        config.write_text(f"archive: archive\nworkers: {args.workers}\n", encoding="utf-8")
        settings = load_settings(config)
        model = current_model(settings.classify.model_dir)
        started = time.perf_counter()
        with Archive.open(settings) as archive, make_pool(args.workers) as pool:
            archive.import_patients(patients)
            outcomes = ingest_files([scans], settings, archive, pool)
            docs = archive.list_documents()
        seconds = time.perf_counter() - started

    failed = [o for o in outcomes if o.status == "failed"]
    pairs: list[tuple[str, str]] = []
    type_review = wrong_patient = untitled = untitled_right = 0
    for d in docs:
        true_type, mrn, titled = truth[d["source"]]
        pairs.append((true_type, d["type"]))
        reason = d.get("review_reason") or ""
        type_review += "low type confidence" in reason
        wrong_patient += d["patient_mrn"] is not None and d["patient_mrn"] != mrn
        if not titled:
            untitled += 1
            untitled_right += d["type"] == true_type
        if args.verbose and d["type"] != true_type:
            print(f"  {d['source']}: typed {d['type']} ({d['type_confidence']:.2f})")
    total = len(pairs)
    correct = sum(a == b for a, b in pairs)
    f1 = f1_scores(pairs)
    confusions = Counter((a, b) for a, b in pairs if a != b)
    per_100 = max(confusions.values(), default=0) * 100 / max(total, 1)
    family = (
        "held-out family (bench/heldout.py)"
        if args.family == "heldout"
        else "test-scan family (tests/scans.py)"
    )
    print(f"model {model.name}; {family}, seed {args.seed}")
    print(f"{len(truth)} scans rendered in {rendered:.0f} s; pipeline {seconds:.0f} s "
          f"with {args.workers} workers; {len(failed)} failed")  # fmt: skip
    for o in failed[:5]:
        print(f"  failed {o.path.name}: {o.error}")
    print(f"documents typed:        {total}")
    print(f"accuracy:               {correct / max(total, 1):.3f} ({correct}/{total})")
    print(f"macro-F1:               {sum(f1.values()) / len(f1):.3f}")
    print(f"without a title line:   {untitled_right}/{untitled} right")
    print(f"sent to review for type: {type_review}/{total} = {100 * type_review / max(total, 1):.1f}% "
          f"(min_confidence {settings.classify.min_confidence})")  # fmt: skip
    print(f"filed to a wrong patient: {wrong_patient}")
    print(f"worst confusion pair:   {per_100:.1f} per 100 documents")
    print("confusion pairs (true -> typed: count):" + ("" if confusions else " none"))
    for (a, b), count in confusions.most_common():
        print(f"  {a} -> {b}: {count}")
    print("per-type F1: " + ", ".join(f"{t} {f1[t]:.2f}" for t in DOC_TYPES))


if __name__ == "__main__":
    main()
