"""Document-type benchmark on paperwork the classifier has never seen.

    .venv/bin/python bench/classify.py [--family heldout|realworld|scans] [--per-type 10]
                                       [--workers 2] [--seed 1] [--text]

Families (none of them is used to train; each was written apart from the training
templates in ``chartclerk/classify/training/``):

* ``heldout`` (``bench/heldout.py``): all 13 types as forms and letters with their own
  titles, headings, sentences, field labels and page layouts; one in five untitled;
* ``realworld`` (``bench/realworld.py``): the eight narrative types as transcribed
  clinical notes: mostly no title, capital headings ("REASON FOR CONSULTATION:"),
  dictation run-ons, twelve specialties, letters to and from referring physicians;
* ``scans``: the test scans' own templates (``tests/scans.py``).

Each document is rendered at 200 or 300 dpi, scanned like a real batch (skew up to 4
degrees, some pages turned, speckle, blur), written as PDF, TIFF or PNG, and run through
the real pipeline (``ingest_files`` with a process pool) into a fresh archive, with
every patient in the roster. ``--text`` skips rendering and OCR and types the text with
simulated OCR damage instead (seconds instead of minutes; for quick looks).

It prints what it measured: accuracy; per-type precision, recall and F1 and their
macro-F1 (over the types the family has); expected calibration error (ten equal-width
confidence bins); the share of documents typed wrong with confidence >= 0.8 (they would
be filed without review); the confusion pairs; the share sent to review for their type
(``classify.min_confidence``); and whether any document went to a wrong patient.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chartclerk.bench.heldout import held_out_document
from chartclerk.bench.realworld import TYPES as REALWORLD_TYPES
from chartclerk.bench.realworld import real_world_note, real_world_page_blocks
from chartclerk.classify import DOC_TYPES, Patient
from chartclerk.classify.model import current_model
from chartclerk.classify.training.forms import ocr_noise
from chartclerk.classify.training.render import render_pages, scan_like
from chartclerk.pipeline import ingest_files
from chartclerk.settings import ClassifySettings, load_settings
from chartclerk.store import Archive
from chartclerk.tests.scans import make_roster, render_document, write_pdf, write_png, write_tiff
from chartclerk.workers import make_pool


def family_types(family: str) -> tuple[str, ...]:
    return REALWORLD_TYPES if family == "realworld" else DOC_TYPES


def make_scans(
    folder: Path, per_type: int, seed: int, family: str = "heldout"
) -> tuple[dict[str, tuple[str, str, bool]], list[Patient]]:
    """Scans in ``folder``; returns file name -> (true type, patient MRN, titled), and the roster."""
    types = family_types(family)
    roster = make_roster(per_type * len(types), seed=seed)
    rng = random.Random(f"bench:{seed}")
    truth: dict[str, tuple[str, str, bool]] = {}
    n = 0
    for i in range(per_type):
        for doc_type in types:
            patient = roster[n]
            titled = (n % 5) != 2
            dpi = rng.choice((200, 300))
            if family == "heldout":
                doc = held_out_document(doc_type, patient, seed * 1000 + i, titled)
                upright = render_pages(doc.blocks, doc.layout, dpi)
            elif family == "realworld":
                note = real_world_note(doc_type, seed * 1000 + i)
                titled = note.titled
                blocks, layout = real_world_page_blocks(note, patient, rng)
                upright = render_pages(blocks, layout, dpi)
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


def text_pairs(per_type: int, seed: int, family: str) -> list[tuple[str, str, float, bool]]:
    """``--text``: (true type, typed, confidence, titled) of each document's text with
    simulated OCR damage, typed by the current model without rendering or OCR."""
    from chartclerk.bench.heldout import HeldOutDoc

    model = current_model(None)
    roster = make_roster(per_type * len(DOC_TYPES), seed=seed)
    truth: list[tuple[str, str, bool]] = []
    n = 0
    for i in range(per_type):
        for doc_type in family_types(family):
            if family == "realworld":
                note = real_world_note(doc_type, seed * 1000 + i)
                text, titled = note.text, note.titled
            else:
                titled = (n % 5) != 2
                doc: HeldOutDoc = held_out_document(doc_type, roster[n], seed * 1000 + i, titled)
                text = "\n".join(b.text for b in doc.blocks if b.style != "blank")
            rng = random.Random(f"bench-noise:{seed}:{n}")
            truth.append((doc_type, ocr_noise(text, rng, rng.uniform(0.0, 0.05)), titled))
            n += 1
    typed = [model.classify(text) for _, text, _ in truth]
    return [(t, c.doc_type, c.confidence, titled) for (t, _, titled), c in zip(truth, typed, strict=True)]


@dataclass(frozen=True, slots=True)
class TypeScore:
    precision: float
    recall: float
    f1: float
    support: int


def type_scores(pairs: Sequence[tuple[str, str]], types: Sequence[str]) -> dict[str, TypeScore]:
    """Per type of ``types``: precision, recall and F1 of the typed documents."""
    scores: dict[str, TypeScore] = {}
    for t in types:
        tp = sum(1 for a, b in pairs if a == t and b == t)
        fp = sum(1 for a, b in pairs if a != t and b == t)
        fn = sum(1 for a, b in pairs if a == t and b != t)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
        scores[t] = TypeScore(precision, recall, f1, tp + fn)
    return scores


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int, float, float]]:
    """Per non-empty equal-width confidence bin: (low, high, documents, mean confidence, accuracy)."""
    rows = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [
            (c, ok)
            for c, ok in zip(confidences, correct, strict=True)
            if (low < c <= high) or (b == 0 and c == 0.0)
        ]
        if inside:
            mean = sum(c for c, _ in inside) / len(inside)
            rows.append((low, high, len(inside), mean, sum(ok for _, ok in inside) / len(inside)))
    return rows


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """ECE: over ten equal-width confidence bins, the documents' share times |accuracy - mean confidence|."""
    total = len(confidences)
    return sum(n / total * abs(acc - mean) for _, _, n, mean, acc in reliability(confidences, correct, bins))


def report(rows: Sequence[tuple[str, str, float, bool]], types: Sequence[str], min_confidence: float) -> None:
    """Print the measured figures of (true type, typed, confidence, titled) rows."""
    total = len(rows)
    pairs = [(a, b) for a, b, _, _ in rows]
    correct = [a == b for a, b in pairs]
    scores = type_scores(pairs, types)
    confident_wrong = sum(1 for a, b, c, _ in rows if a != b and c >= 0.8)
    untitled = [(a == b) for a, b, _, titled in rows if not titled]
    review = sum(1 for _, _, c, _ in rows if c < min_confidence)
    review_right = sum(1 for a, b, c, _ in rows if c < min_confidence and a == b)
    ece = expected_calibration_error([c for _, _, c, _ in rows], correct)
    confusions = Counter((a, b) for a, b in pairs if a != b)
    print(f"documents typed:         {total}")
    print(f"accuracy:                {sum(correct) / max(total, 1):.3f} ({sum(correct)}/{total})")
    macro = sum(s.f1 for s in scores.values()) / len(scores)
    print(f"macro-F1:                {macro:.3f} (over {len(scores)} types)")
    print(f"expected calibration error: {ece:.3f} (10 bins)")
    for low, high, n, mean, acc in reliability([c for _, _, c, _ in rows], correct):
        print(f"  confidence {low:.1f}-{high:.1f}: {n:4d} documents, mean {mean:.3f}, right {acc:.3f}")
    share = 100 * confident_wrong / max(total, 1)
    print(f"confidently wrong (>= 0.8): {confident_wrong}/{total} = {share:.1f}%")
    print(f"without a title line:    {sum(untitled)}/{len(untitled)} right")
    print(f"sent to review for type: {review}/{total} = {100 * review / max(total, 1):.1f}% "
          f"(min_confidence {min_confidence}; {review_right} of them typed right)")  # fmt: skip
    print("confusion pairs (true -> typed: count):" + ("" if confusions else " none"))
    for (a, b), count in confusions.most_common():
        print(f"  {a} -> {b}: {count}")
    print(f"  {'type':<18} precision recall   F1   n")
    for t, s in scores.items():
        print(f"  {t:<18} {s.precision:9.3f} {s.recall:6.3f} {s.f1:5.3f} {s.support:3d}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-type", type=int, default=10, help="documents per type")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--family",
        choices=("heldout", "realworld", "scans"),
        default="heldout",
        help="heldout: bench/heldout.py (default); realworld: bench/realworld.py; "
        "scans: the test scans' templates (tests/scans.py)",
    )
    parser.add_argument("--text", action="store_true", help="type text with simulated OCR damage; no scans")
    parser.add_argument("--verbose", action="store_true", help="one line per misclassified document")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    families = {
        "heldout": "held-out family (bench/heldout.py)",
        "realworld": "real-world-style family (bench/realworld.py)",
        "scans": "test-scan family (tests/scans.py)",
    }
    types = family_types(args.family)
    if args.text:
        if args.family == "scans":
            parser.error("--text works with the heldout and realworld families")
        started = time.perf_counter()
        typed = text_pairs(args.per_type, args.seed, args.family)
        model = current_model(None)
        seconds = time.perf_counter() - started
        print(f"model {model.name}; {families[args.family]}, seed {args.seed}; "
              f"text with simulated OCR damage, {seconds:.0f} s")  # fmt: skip
        report(typed, types, ClassifySettings().min_confidence)
        return

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
    rows: list[tuple[str, str, float, bool]] = []
    wrong_patient = 0
    for d in docs:
        true_type, mrn, titled = truth[d["source"]]
        rows.append((true_type, d["type"], float(d["type_confidence"]), titled))
        wrong_patient += d["patient_mrn"] is not None and d["patient_mrn"] != mrn
        if args.verbose and d["type"] != true_type:
            print(f"  {d['source']}: typed {d['type']} ({d['type_confidence']:.2f})")
    print(f"model {model.name}; {families[args.family]}, seed {args.seed}")
    print(f"{len(truth)} scans rendered in {rendered:.0f} s; pipeline {seconds:.0f} s "
          f"with {args.workers} workers; {len(failed)} failed")  # fmt: skip
    for o in failed[:5]:
        print(f"  failed {o.path.name}: {o.error}")
    report(rows, types, settings.classify.min_confidence)
    print(f"filed to a wrong patient: {wrong_patient}")


if __name__ == "__main__":
    main()
