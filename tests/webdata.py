"""Synthetic archives for the web app's tests: pages drawn with known words at known places.

Each page is a white letter-size image at 100 dpi with lines of text drawn by Pillow; the
box of every word is measured from the font as it is drawn, so the word boxes stored with the
page (fractions of the page) are where the words really are on the page image the viewer
shows. Documents go in through ``Archive.archive_document``, as the pipeline's do (no OCR).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chartclerk.classify.models import Patient
from chartclerk.classify.training.render import FONTS
from chartclerk.store import Archive, DocumentRecord, PageRecord, SourceRecord, make_page_pdf
from chartclerk.store.models import WordBox

DPI = 100
SIZE = (850, 1100)  # letter at 100 dpi
PATIENTS = (
    Patient(mrn="00012345", last="Lindqvist", first="Maria", dob=dt.date(1961, 3, 14), sex="F"),
    Patient(mrn="4567", last="Okafor", first="James", dob=dt.date(1975, 9, 2), sex="M"),
    Patient(mrn="889900", last="Okafor", first="Grace", dob=dt.date(1980, 1, 30), sex="F"),
)


@dataclass(frozen=True, slots=True)
class DrawnPage:
    image: np.ndarray
    words: tuple[WordBox, ...]
    text: str


def draw_page(
    lines: Sequence[str], *, font: str = "DejaVuSans", font_size: int = 22, top: int = 90, left: int = 80
) -> DrawnPage:
    """A page image with these lines of text, and each word's measured box."""
    face = ImageFont.truetype(str(FONTS[font][0]), font_size)
    image = Image.new("L", SIZE, 255)
    draw = ImageDraw.Draw(image)
    words: list[WordBox] = []
    y = top
    for line in lines:
        x = left
        for word in line.split():
            x0, upper, right, lower = draw.textbbox((x, y), word, font=face)
            draw.text((x, y), word, font=face, fill=0)
            words.append(
                WordBox(
                    word,
                    x0 / SIZE[0],
                    upper / SIZE[1],
                    (right - x0) / SIZE[0],
                    (lower - upper) / SIZE[1],
                    95.0,
                )
            )
            x = int(right) + int(font_size * 0.45)
        y += int(font_size * 1.8)
    return DrawnPage(np.asarray(image, dtype=np.uint8).copy(), tuple(words), "\n".join(lines))


def add_document(
    archive: Archive,
    folder: Path,
    pages: Sequence[Sequence[str]],
    *,
    mrn: str | None,
    doc_type: str = "discharge_summary",
    candidates: tuple[tuple[str, float], ...] = (),
    review_reason: str | None = None,
    **drawing: Any,
) -> int:
    """Archive one document (its own source file) whose pages show these lines (drawn by
    ``draw_page(lines, **drawing)``); returns its id."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("scan-*.pdf")))
    drawn = [draw_page(lines, **drawing) for lines in pages]
    page_files = []
    for i, page in enumerate(drawn, start=1):
        path = folder / f"page-{n}-{i}.pdf"
        path.write_bytes(make_page_pdf(page.image, DPI, b""))
        page_files.append(path)
    source_path = folder / f"scan-{n}.pdf"
    data = b"%PDF-1.4 synthetic scan " + str(n).encode() * 100
    source_path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    source = SourceRecord(source_path, source_path.name, sha, len(data), len(pages))
    archive.store_original(source)
    status: Literal["filed", "review"] = "filed" if mrn else "review"
    record = DocumentRecord(
        source=source,
        source_pages=(1, len(pages)),
        doc_type=doc_type,
        loinc=None,
        type_confidence=0.91,
        patient_mrn=mrn,
        patient_confidence=0.97 if mrn else None,
        status=status,
        review_reason=review_reason or (None if mrn else "no roster match"),
        match_reason="mrn+name+dob agree" if mrn else "name only",
        candidates=candidates,
        pages=tuple(
            PageRecord(i, i, 0.4, 0, 95.0, page.text, path, words=page.words)
            for i, (page, path) in enumerate(zip(drawn, page_files, strict=True), start=1)
        ),
    )
    doc_id = archive.archive_document(record).id
    archive.complete_source(source.sha256)
    return doc_id


def build_archive(archive: Archive, folder: Path) -> dict[str, int]:
    """A small archive: Maria's discharge summary (2 pages) and lab report, James's progress note,
    a document in review with two candidates, and one whose OCR text holds a script tag."""
    archive.import_patients(PATIENTS)
    ids = {
        "discharge": add_document(
            archive,
            folder,
            [
                ["DISCHARGE SUMMARY", "Patient: Maria Lindqvist", "Admitted with chest pain and fever."],
                ["Follow up in cardiology clinic.", "Chest pain resolved on aspirin."],
            ],
            mrn="00012345",
        ),
        "lab": add_document(
            archive,
            folder,
            [["LABORATORY REPORT", "Hemoglobin 13.2 g/dL", "Potassium normal."]],
            mrn="00012345",
            doc_type="lab_report",
        ),  # fmt: skip
        "progress": add_document(
            archive,
            folder,
            [["PROGRESS NOTE", "James Okafor seen for cough.", "No chest pain today."]],
            mrn="4567",
            doc_type="progress_note",
        ),  # fmt: skip
        "review": add_document(
            archive,
            folder,
            [["CONSULTATION", "Okafor referred for nephrology review."]],
            mrn=None,
            doc_type="consult_note",
            candidates=(("4567", 0.72), ("889900", 0.70)),
        ),  # fmt: skip
        "hostile": add_document(
            archive,
            folder,
            [["NOTE <script>alert(1)</script>", "pleurisy <img src=x onerror=alert(2)>"]],
            mrn="4567",
            doc_type="other",
        ),  # fmt: skip
    }
    return ids
