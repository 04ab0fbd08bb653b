"""Chart deficiencies on a held-out family of forms (issue 16).

    .venv/bin/python bench/deficiency.py [--forms 80] [--documents 30] [--workers 2] [--seed 16]
                                         [--verbose] [--workdir DIR]

The forms are drawn here, by a generator the tests do not use (tests/deficiencyforms.py):
other fonts (Liberation Serif and Sans, DejaVu Serif), other wording ("Attending physician
signature", "Signature of provider", "Authenticated by", "Patient/guardian signature",
"Witness", "Date/Time"), other layouts (label left of the line, label printed under the line,
two areas stacked, a ruled box) and other marks: signatures as chained Bezier strokes (pens
1-5 px at 200 dpi, ink from black to light pencil), and for the unsigned areas nothing, an
"X" where to sign, a checkmark, a staple shadow, a fax streak through the area, a rectangular
"RECEIVED" or "SIGNATURE ON FILE" stamp, a speck of dust. Pages are written as one scanned
PDF (200 dpi, slight skew, speckle, JPEG) each and go through the real pipeline (tesseract,
deskew, archive) into a fresh archive; then ``scan_archive`` reads them back from the archive
as ``chartclerk deficiencies`` does.

Multi-page documents (3-5 pages) carry "Page x of y" in several held-out wordings ("Page 2 of
4", "Pg. 2/4", "p. 2 of 4", "Page 002/004") and the patient's name and MRN in a running
header; some have a page left out (a gap, or the last pages: a short count) and some have one
page whose header was left off (a loose page).

Measured: recall and precision of each finding kind against what was drawn (an unsure
finding counts as a finding: the clerk is shown it), and the analysis time per page
(reading the page image from the archived PDF included), wall and CPU, beside the pipeline's
own time for the same pages in the same run (its wall time, and its stages' summed time).
``--verbose`` prints every document's findings beside what was drawn, and what OCR read on
the last two lines of each page of the multi-page documents (where "Page x of y" stands).
``--workdir`` keeps the archive: run again with the same arguments, only the analysis runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete

from chartclerk.classify import Patient
from chartclerk.deficiency.run import scan_archive
from chartclerk.pipeline import ingest_files
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.store.db import session_scope, write_engine
from chartclerk.store.deficiencies import list_findings, stored_pages
from chartclerk.store.tables import DeficiencyRow, DeficiencyScanRow
from chartclerk.workers import make_pool

DPI = 200
W, H = round(8.5 * DPI), round(11 * DPI)
FONTS = (
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
)
SIG_LABELS = (
    "Attending physician signature:",
    "Signature of provider:",
    "Authenticated by (signature):",
    "Surgeon signature:",
    "Nurse signature:",
    "Resident signed:",
)
UNDER_LABELS = ("Signature of provider", "Physician signature", "Signature of attending")
DATE_LABELS = ("Date/Time:", "Date:", "Dated:")
UNSIGNED_MARKS = ("blank", "x", "check", "staple", "fax", "stamp", "dust")
SIGNED_PENS = ((1, 185), (1, 60), (2, 20), (3, 10), (4, 40), (5, 15), (2, 150))
BODY = (
    "Interval events reviewed with nursing staff overnight.",
    "Vital signs stable, afebrile, pain controlled on current regimen.",
    "Wound clean and dry, dressing changed at bedside.",
    "Labs reviewed; potassium repleted per protocol.",
    "Continue current management and reassess in the morning.",
    "Discussed the plan with the patient and family at length.",
)
NAMES = (
    ("HALVORSEN", "Ingrid", "40021877"), ("MBEKI", "Thandiwe", "55190342"),
    ("QUINTERO", "Rafael", "71820455"),
    ("OYELARAN", "Tomiwa", "36654120"), ("VASQUEZ", "Lucia", "88410263"),
)  # fmt: skip


@dataclass
class Truth:
    signatures: list[tuple[float, bool, bool]] = field(default_factory=list)  # (top fraction, signed, dated)
    missing_pages: bool = False
    loose_pages: list[int] = field(default_factory=list)


class Page:
    def __init__(self, rng: random.Random) -> None:
        self.img = Image.new("L", (W, H), 255 - rng.randint(0, 10))
        self.rng = rng
        self.font_path = rng.choice(FONTS)

    def text(self, x: int, y: int, s: str, size: int = 30) -> tuple[int, int, int, int]:
        font = ImageFont.truetype(self.font_path, size)
        draw = ImageDraw.Draw(self.img)
        draw.text((x, y), s, font=font, fill=15)
        box = draw.textbbox((x, y), s, font=font)
        return int(box[0]), int(box[1]), int(box[2]), int(box[3])

    def arr(self) -> np.ndarray:
        return np.asarray(self.img).copy()

    def put(self, arr: np.ndarray) -> None:
        self.img = Image.fromarray(arr)


def bezier_signature(arr: np.ndarray, x: int, y: int, width: int, rng: random.Random, pen: int, gray: int,
                     height: int = 50) -> None:  # fmt: skip
    """Chained cubic Bezier strokes, rising and falling around the baseline ``y``."""
    strokes = rng.randint(1, 4)
    seg = width / strokes
    for s in range(strokes):
        pts = [(x + s * seg + rng.uniform(0, 8), y - rng.uniform(0, height * 0.4))]
        n = rng.randint(3, 7)
        for k in range(n):
            x0, y0 = pts[-1]
            x3 = x + s * seg + (k + 1) * seg * 0.9 / n
            y3 = y - rng.uniform(0, height)
            c1 = (x0 + rng.uniform(-10, 25), y - rng.uniform(-height * 0.3, height * 1.1))
            c2 = (x3 + rng.uniform(-25, 10), y - rng.uniform(-height * 0.3, height * 1.1))
            for t in np.linspace(0, 1, 16)[1:]:
                bx = (1 - t) ** 3 * x0 + 3 * (1 - t) ** 2 * t * c1[0] + 3 * (1 - t) * t**2 * c2[0] + t**3 * x3
                by = (1 - t) ** 3 * y0 + 3 * (1 - t) ** 2 * t * c1[1] + 3 * (1 - t) * t**2 * c2[1] + t**3 * y3
                pts.append((bx, by))
        cv2.polylines(arr, [np.array([(round(a), round(b)) for a, b in pts], np.int32)], False, gray, pen,
                      cv2.LINE_AA)  # fmt: skip


def hand_date(arr: np.ndarray, x: int, y: int, rng: random.Random) -> None:
    """A handwritten date: short digit-like strokes and two slashes."""
    cx = x
    for k in range(rng.randint(6, 8)):
        if k in (2, 5):
            cv2.line(arr, (cx, y), (cx + 12, y - 34), 25, 2, cv2.LINE_AA)
            cx += 20
            continue
        pts = [(cx + rng.uniform(0, 14), y - rng.uniform(0, 34)) for _ in range(4)]
        cv2.polylines(arr, [np.array([(round(a), round(b)) for a, b in pts], np.int32)], False, 25, 2,
                      cv2.LINE_AA)  # fmt: skip
        cx += 22


def stray(arr: np.ndarray, mark: str, x: int, y: int, rng: random.Random) -> None:
    if mark == "x":
        cv2.line(arr, (x, y - 24), (x + 22, y), 20, 3)
        cv2.line(arr, (x, y), (x + 22, y - 24), 20, 3)
    elif mark == "check":
        cv2.polylines(
            arr, [np.array([(x, y - 18), (x + 10, y - 2), (x + 40, y - 44)], np.int32)], False, 25, 3
        )
    elif mark == "staple":
        poly = np.array([(x, y - 30), (x + 90, y - 46), (x + 92, y - 30), (x + 2, y - 14)], np.int32)
        cv2.fillPoly(arr, [poly], 90)
    elif mark == "fax":
        yy = y - rng.randint(5, 40)
        arr[yy : yy + rng.randint(1, 3), :] = 30
    elif mark == "stamp":
        cv2.rectangle(arr, (x, y - 70), (x + 330, y + 4), 70, 4)
        words = rng.choice(("RECEIVED", "SIGNATURE ON FILE", "COPY"))
        cv2.putText(arr, words, (x + 16, y - 40), cv2.FONT_HERSHEY_DUPLEX, 0.9, 70, 2)
        cv2.putText(arr, "NOV 03 2026", (x + 16, y - 8), cv2.FONT_HERSHEY_DUPLEX, 0.8, 70, 2)
    elif mark == "dust":
        for _ in range(6):
            cv2.circle(arr, (x + rng.randint(0, 300), y - rng.randint(0, 40)), 1, 60, -1)


def signature_page(rng: random.Random, patient: tuple[str, str, str]) -> tuple[list[np.ndarray], Truth]:
    page = Page(rng)
    truth = Truth()
    page.text(150, 120, rng.choice(("DAILY PROGRESS RECORD", "CLINICAL NOTE", "PROCEDURE NOTE")), 44)
    page.text(150, 190, f"Name: {patient[0]}, {patient[1]}    Med Rec #: {patient[2]}")
    y = 260
    for _ in range(rng.randint(4, 9)):
        page.text(150, y, rng.choice(BODY))
        y += 50
    layout = rng.choice(("left", "under", "two"))
    areas = 2 if layout == "two" else 1
    y += 90
    for a in range(areas):
        signed = rng.random() < 0.5
        dated = not signed or rng.random() < 0.7
        arr = page.arr()
        if layout == "under":
            cv2.line(arr, (150, y), (800, y), 0, 2)
            cv2.line(arr, (950, y), (1400, y), 0, 2)
            page.put(arr)
            page.text(150, y + 10, rng.choice(UNDER_LABELS))
            page.text(950, y + 10, "Date")
            sig_x, date_x = 180, 980
        else:
            label = (
                ("Patient/guardian signature:", "Witness signature:")[a]
                if layout == "two"
                else rng.choice(SIG_LABELS)
            )
            _, _, right, _ = page.text(150, y - 36, label)
            _, _, dright, _ = page.text(1060, y - 36, rng.choice(DATE_LABELS))
            arr = page.arr()
            cv2.line(arr, (right + 14, y), (1030, y), 0, 2)
            cv2.line(arr, (dright + 10, y), (1550, y), 0, 2)
            page.put(arr)
            sig_x, date_x = right + 30, dright + 24
        arr = page.arr()
        if signed:
            pen, gray = rng.choice(SIGNED_PENS)
            bezier_signature(arr, sig_x, y - 4, rng.randint(260, 480), rng, pen, gray)
            if dated:
                hand_date(arr, date_x, y - 4, rng)
        else:
            stray(arr, rng.choice(UNSIGNED_MARKS), sig_x + rng.randint(0, 60), y - 4, rng)
        page.put(arr)
        truth.signatures.append((y / H, signed, dated))
        y += 200
    return [degrade(page.arr(), rng)], truth


def document_pages(rng: random.Random, patient: tuple[str, str, str]) -> tuple[list[np.ndarray], Truth]:
    total = rng.randint(3, 5)
    style = rng.choice(("Page {x} of {y}", "Pg. {x}/{y}", "p. {x} of {y}", "Page {x:03d}/{y:03d}"))
    truth = Truth()
    kept = list(range(1, total + 1))
    if rng.random() < 0.35:
        drop = rng.choice(("gap", "tail"))
        if drop == "gap":
            kept.remove(rng.randint(2, total - 1))
        else:
            kept = kept[: total - rng.randint(1, 2)]
        truth.missing_pages = True
    loose = rng.choice(kept[1:]) if rng.random() < 0.35 and len(kept) > 1 else None
    pages = []
    for i, x in enumerate(kept, start=1):
        page = Page(rng)
        if x != loose:
            page.text(150, 100, f"{patient[0]}, {patient[1]}   MRN {patient[2]}   DOB 04/11/1962", 28)
        else:
            truth.loose_pages.append(i)
        page.text(
            150, 170, rng.choice(("OPERATIVE REPORT", "DISCHARGE SUMMARY", "CONSULTATION")) + " (cont.)", 36
        )
        y = 240
        for _ in range(rng.randint(10, 18)):
            page.text(150, y, rng.choice(BODY))
            y += 48
        page.text(rng.choice((150, 700, 1250)), H - 150, style.format(x=x, y=total), 26)
        pages.append(degrade(page.arr(), rng))
    return pages, truth


def degrade(arr: np.ndarray, rng: random.Random) -> np.ndarray:
    angle = rng.uniform(-1.2, 1.2)
    m = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
    out = cv2.warpAffine(arr, m, (W, H), borderValue=250)
    noise = np.random.default_rng(rng.randint(0, 10**6)).random(out.shape) < 0.0008
    out[noise] = 40
    return out.astype(np.uint8)


def write_pdf(path: Path, pages: list[np.ndarray]) -> None:
    images = [Image.fromarray(p) for p in pages]
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=float(DPI), quality=75)


def score(name: str, tp: int, fp: int, fn: int) -> str:
    recall = tp / (tp + fn) if tp + fn else float("nan")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    return f"  {name:<28} recall {recall:6.3f} ({tp}/{tp + fn})   precision {precision:6.3f} ({tp}/{tp + fp})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--forms", type=int, default=80, help="signature pages")
    parser.add_argument("--documents", type=int, default=30, help="multi-page documents")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--verbose", action="store_true", help="print every finding beside what was drawn")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the archive in this folder; when it holds one filled by the same arguments, only "
        "the analysis runs again (for looking at errors; the pipeline time is the filling run's)",
    )
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(args, args.workdir)
    with tempfile.TemporaryDirectory(prefix="ccdef-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, root: Path) -> int:
    rng = random.Random(args.seed)
    inbox = root / "inbox"
    marker = root / "filled.json"
    key = {"forms": args.forms, "documents": args.documents, "seed": args.seed}
    filled = json.loads(marker.read_text()) if marker.exists() else None
    reuse = filled is not None and filled["key"] == key
    if not reuse:
        shutil.rmtree(inbox, ignore_errors=True)
        shutil.rmtree(root / "archive", ignore_errors=True)
        inbox.mkdir()
    (root / "config.yaml").write_text(f"inbox: inbox\narchive: archive\nworkers: {args.workers}\n")
    settings = load_settings(root / "config.yaml")
    truths: dict[str, Truth] = {}
    for i in range(args.forms):
        pages, truth = signature_page(rng, rng.choice(NAMES))
        if not reuse:
            write_pdf(inbox / f"form-{i:03d}.pdf", pages)
        truths[f"form-{i:03d}.pdf"] = truth
    for i in range(args.documents):
        pages, truth = document_pages(rng, rng.choice(NAMES))
        if not reuse:
            write_pdf(inbox / f"doc-{i:03d}.pdf", pages)
        truths[f"doc-{i:03d}.pdf"] = truth
    with Archive.open(settings) as archive:
        if reuse:
            assert filled is not None
            pipeline_s, pages_total = float(filled["pipeline_s"]), int(filled["pages"])
            stage_s = float(filled.get("stage_s", "nan"))
            forget_analysis(archive)
        else:
            archive.import_patients(
                Patient(mrn, last.title(), first, dt.date(1962, 4, 11), "U") for last, first, mrn in NAMES
            )
            pool = make_pool(args.workers)
            started = time.perf_counter()
            outcomes = ingest_files(sorted(inbox.iterdir()), settings, archive, pool)
            pipeline_s = time.perf_counter() - started
            pool.shutdown()
            pages_total = sum(o.pages for o in outcomes)
            stage_s = sum(seconds for o in outcomes for _, seconds in o.times)
            if args.workdir is not None:
                filling = {"key": key, "pipeline_s": pipeline_s, "stage_s": stage_s, "pages": pages_total}
                marker.write_text(json.dumps(filling))
        report = scan_archive(archive, settings)
        findings = list_findings(archive, status="open")
        docs = {d["id"]: d for d in archive.list_documents()}
        footers = {i: page_footers(archive, i) for i in docs} if args.verbose else {}
    by_doc: dict[int, list[dict[str, object]]] = defaultdict(list)
    for f in findings:
        by_doc[int(f["document_id"])].append(f)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    unsure = 0
    for doc_id, doc in docs.items():
        truth = truths[str(doc["source"])]
        found = by_doc.get(doc_id, [])
        if args.verbose:
            print(doc["source"], truth, [(f["kind"], f["page"], f["region"], f["detail"]) for f in found])
            if str(doc["source"]).startswith("doc-"):
                for number, footer in footers[doc_id]:
                    print(f"    page {number}: footer read {footer!r}")
        unsure += sum(1 for f in found if not f["sure"])
        _match_signatures(truth, found, counts)
        got = any(f["kind"] == "pages_missing" for f in found)
        _count(counts["pages_missing"], truth.missing_pages, got)
        loose = {int(f["page"]) for f in found if f["kind"] == "identifier_missing"}  # type: ignore[call-overload]
        for n in range(1, len(doc["pages"]) + 1):
            _count(counts["identifier_missing (pages)"], n in truth.loose_pages, n in loose)
    print(f"held-out family: {args.forms} signature pages, {args.documents} multi-page documents, "
          f"{pages_total} pages, seed {args.seed}; {len(docs)} documents archived")  # fmt: skip
    for kind in ("signature_missing", "signature_undated", "pages_missing", "identifier_missing (pages)"):
        tp, fp, fn = counts[kind]
        print(score(kind, tp, fp, fn))
    print(f"  unsure findings shown to the clerk: {unsure}")
    per_page = 1000 * report.seconds / max(report.pages, 1)
    cpu_page = 1000 * report.cpu_seconds / max(report.pages, 1)
    print(f"analysis: {report.pages} pages in {report.seconds:.2f} s wall = {per_page:.1f} ms per page; "
          f"CPU {cpu_page:.1f} ms per page (page images read from the archived PDFs, database writes "
          "included)")  # fmt: skip
    pipe_page = 1000 * pipeline_s / max(pages_total, 1)
    stage_page = 1000 * stage_s / max(pages_total, 1)
    print(
        f"pipeline{' (the run that filled the kept archive)' if reuse else ''}: {pipeline_s:.1f} s wall for "
        f"the same pages = {pipe_page:.0f} ms per page ({args.workers} workers); its stages' own time "
        f"{stage_page:.0f} ms per page"
    )
    print(
        f"analysis / pipeline per page: wall {per_page / pipe_page:.1%} of the pipeline's wall, CPU "
        f"{cpu_page / stage_page:.1%} of the pipeline's stage time"
    )
    print("targets: missing signature recall >= 0.97 at precision >= 0.95; pages and identifiers >= 0.99 "
          "both; <= 50 ms per page")  # fmt: skip
    return 0


def forget_analysis(archive: Archive) -> None:
    """Drop every finding and analysis mark, so that ``scan_archive`` reads every document again."""
    with session_scope(write_engine(archive.engine)) as session:
        session.execute(delete(DeficiencyRow))
        session.execute(delete(DeficiencyScanRow))


def page_footers(archive: Archive, doc_id: int) -> list[tuple[int, str]]:
    """What OCR read on the last two lines of each page (where the "Page x of y" is drawn)."""
    _, pages = stored_pages(archive, doc_id)
    return [(p.number, " | ".join([ln for ln in p.text.splitlines() if ln.strip()][-2:])) for p in pages]


def _count(cell: list[int], truth: bool, got: bool) -> None:
    if truth and got:
        cell[0] += 1
    elif got:
        cell[1] += 1
    elif truth:
        cell[2] += 1


def _match_signatures(truth: Truth, found: list[dict[str, object]], counts: dict[str, list[int]]) -> None:
    """Each drawn area is matched to the finding whose region lies nearest it on the page (the
    page is deskewed: positions move a little)."""
    for kind, wanted in (
        ("signature_missing", [(top, not signed) for top, signed, _ in truth.signatures]),
        ("signature_undated", [(top, signed and not dated) for top, signed, dated in truth.signatures]),
    ):
        regions = [f["region"] for f in found if f["kind"] == kind and f["region"]]
        used: set[int] = set()
        for top, positive in wanted:
            hit = None
            for i, r in enumerate(regions):
                r4 = r
                bottom = float(r4[1]) + float(r4[3])  # type: ignore[index]
                if i not in used and abs(bottom - top) < 0.04:
                    hit = i
                    break
            if hit is not None:
                used.add(hit)
            _count(counts[kind], positive, hit is not None)
        counts[kind][1] += len(regions) - len(used)  # findings matching no drawn area


if __name__ == "__main__":
    sys.exit(main())
