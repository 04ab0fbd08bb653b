"""Learning from the clerk: accuracy on an office's own forms before and after `chartclerk train`.

    .venv/bin/python bench/retrain.py [--per-form 12] [--workers 2]

An office has two local forms the shipped model has never seen and that it files its own
way: an anticoagulation (INR) log, filed as a progress note, and a durable medical
equipment order, filed as a prescription. Month 1: ``--per-form`` scans of each go through
the real pipeline, and a clerk re-types every one the model got wrong
(``Archive.file_document``, as ``chartclerk file ID --type T`` does). Then the office model
is retrained from the archive (``train_from_archive``, as ``chartclerk train`` does). Month 2:
new scans of the same forms (other patients, other values) go through the pipeline with
the retrained model. It prints the accuracy and review share of month 2 under the shipped
model and under the retrained one (same OCR text), the report of the retrain itself, and
both models' accuracy on the held-out benchmark family as text (``bench/heldout.py``), to
show that nothing else was lost.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

from chartclerk.bench.heldout import held_out_document
from chartclerk.classify import DOC_TYPES, LOINC, Patient
from chartclerk.classify.model import current_model, load_model, shipped_manifest
from chartclerk.classify.training.forms import ocr_noise
from chartclerk.classify.training.render import Block, Layout, render_pages, scan_like, text_of
from chartclerk.doctypes import train_from_archive
from chartclerk.pipeline import ingest_files
from chartclerk.settings import Settings, load_settings
from chartclerk.store import Archive
from chartclerk.tests.scans import FakePatient, make_roster, write_png
from chartclerk.workers import make_pool

LOCAL_TYPES = {"inr_log": "progress_note", "equipment_order": "prescription"}


def local_form(kind: str, patient: FakePatient, seed: int) -> list[Block]:
    r = random.Random(f"{kind}:{seed}")
    banner = Block(
        "banner",
        (f"{patient.last.upper()}, {patient.first}   MRN {patient.mrn}   DOB {patient.dob.isoformat()}",),
    )
    if kind == "inr_log":
        rows = []
        for _ in range(r.randint(4, 9)):
            day = f"{r.randint(1, 12):02d}/{r.randint(1, 28):02d}"
            result = f"INR {r.randint(1, 4)}.{r.randint(0, 9)}"
            dose = f"warfarin {r.choice((2, 3, 5, 7))} mg"
            rows.append(Block("row", (day, result, dose, f"next {r.randint(1, 4)} wk")))
        return [
            Block("letterhead", ("Hillside Anticoagulation Service",)),
            Block("title", ("ANTICOAGULATION LOG",)),
            banner,
            Block("field", ("Target range", "2.0-3.0")),
            Block("field", ("Indication", r.choice(("atrial fibrillation", "DVT", "mechanical valve")))),
            Block("row", ("Date", "Result", "Weekly dose", "Recheck")),
            *rows,
            Block("para", ("Dose adjusted per protocol; patient instructed by phone.",)),
        ]
    item = r.choice(
        ("front-wheeled walker", "oxygen concentrator 2 L/min", "semi-electric bed", "CPAP, humidifier")
    )
    return [
        Block("letterhead", ("Hillside Family Medicine",)),
        Block("title", ("DURABLE MEDICAL EQUIPMENT ORDER",)),
        banner,
        Block("field", ("Item", item)),
        Block("field", ("HCPCS", f"E{r.randint(1000, 1999)}")),
        Block("field", ("Length of need", r.choice(("12 months", "99 (lifetime)", "6 months")))),
        Block("field", ("Medical necessity", "unable to ambulate safely without device")),
        Block("para", (f"Ordering physician signature ______  NPI {r.randint(10**9, 10**10 - 1)}",)),
    ]


def scan_month(
    folder: Path, roster: list[FakePatient], per_form: int, month: int
) -> dict[str, tuple[str, str]]:
    folder.mkdir(parents=True)
    truth: dict[str, tuple[str, str]] = {}
    n = 0
    for i in range(per_form):
        for kind, doc_type in LOCAL_TYPES.items():
            patient = roster[(month * 1000 + n) % len(roster)]
            page = render_pages(local_form(kind, patient, month * 1000 + i), Layout(point_size=11), 200)[0]
            name = f"m{month}-{n:03d}-{kind}.png"
            write_png(
                folder / name, scan_like(page, skew_degrees=random.Random(n).uniform(-2, 2), seed=n), dpi=200
            )
            truth[name] = (doc_type, patient.mrn)
            n += 1
    return truth


def ingest_month(folder: Path, settings: Settings, archive: Archive, workers: int) -> list[dict[str, object]]:
    with make_pool(workers) as pool:
        ingest_files([folder], settings, archive, pool)
    names = {p.name for p in folder.iterdir()}
    return [
        archive.get_document(int(d["id"]), with_text=True)
        for d in archive.list_documents()
        if d["source"] in names
    ]


def text_of_doc(doc: dict[str, object]) -> str:
    pages = doc["pages"]
    assert isinstance(pages, list)
    return "\n\f".join(str(p["text"]) for p in pages)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-form", type=int, default=12, help="scans of each local form per month")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    roster = make_roster(200, seed=11)

    with tempfile.TemporaryDirectory(prefix="chartclerk-retrain-") as tmp:
        root = Path(tmp)
        (root / "config.yaml").write_text(f"archive: archive\nworkers: {args.workers}\n", encoding="utf-8")
        settings = load_settings(root / "config.yaml")
        with Archive.open(settings) as archive:
            archive.import_patients(Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in roster)
            truth1 = scan_month(root / "month1", roster, args.per_form, 1)
            month1 = ingest_month(root / "month1", settings, archive, args.workers)
            right1 = sum(d["type"] == truth1[str(d["source"])][0] for d in month1)
            corrected = 0
            for d in month1:
                wanted, mrn = truth1[str(d["source"])]
                if d["type"] != wanted:
                    archive.file_document(
                        int(str(d["id"])), mrn=mrn, doc_type=wanted, loinc=LOINC[wanted], user="clerk"
                    )
                    corrected += 1
            started = time.perf_counter()
            report = train_from_archive(archive, settings)
            train_seconds = time.perf_counter() - started
            truth2 = scan_month(root / "month2", roster, args.per_form, 2)
            month2 = ingest_month(root / "month2", settings, archive, args.workers)
        retrained = current_model(settings.classify.model_dir)
    shipped = load_model(shipped_manifest())

    texts2 = [text_of_doc(d) for d in month2]
    wanted2 = [truth2[str(d["source"])][0] for d in month2]
    min_conf = settings.classify.min_confidence

    def score(model_probs: list[tuple[str, float]]) -> str:
        right = sum(t == w for (t, _), w in zip(model_probs, wanted2, strict=True))
        review = sum(c < min_conf for _, c in model_probs)
        return (
            f"accuracy {right}/{len(wanted2)} = {right / len(wanted2):.3f}, sent to review for type {review}"
        )

    before = [(c.doc_type, c.confidence) for c in (shipped.classify(t) for t in texts2)]
    after = [(c.doc_type, c.confidence) for c in (retrained.classify(t) for t in texts2)]
    pipeline_right = sum(d["type"] == w for d, w in zip(month2, wanted2, strict=True))

    rng = random.Random(5)
    heldout = [
        (ocr_noise(text_of(held_out_document(t, roster[i], 500 + i, i % 5 != 2).blocks), rng, 0.02), t)
        for t in DOC_TYPES
        for i in range(15)
    ]
    held_before = sum(
        p == t for p, t in zip(shipped.predict([x for x, _ in heldout]), [t for _, t in heldout], strict=True)
    )
    held_after = sum(
        p == t
        for p, t in zip(retrained.predict([x for x, _ in heldout]), [t for _, t in heldout], strict=True)
    )

    print(f"local forms: {', '.join(f'{k} (filed as {v})' for k, v in LOCAL_TYPES.items())}")
    print(f"month 1: {len(month1)} documents, shipped model right on {right1}; clerk re-typed {corrected}")
    print(
        f"chartclerk train: {report.model} on {report.corpus_documents} corpus + "
        f"{report.office_documents} office documents in {train_seconds:.0f} s"
    )
    print(f"  on the corrected documents: accuracy before {report.accuracy_before:.3f}, "
          f"after {report.accuracy_after:.3f} ({report.folds}-fold cross-validated)")  # fmt: skip
    print(f"month 2 ({len(month2)} new documents, same OCR text):")
    print(f"  shipped model   {score(before)}")
    print(f"  retrained model {score(after)}  (pipeline typed {pipeline_right} right)")
    print(f"held-out family as text ({len(heldout)} documents): shipped {held_before / len(heldout):.3f}, "
          f"retrained {held_after / len(heldout):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
