"""Generated forms with signature areas for the deficiency tests: text drawn with PIL (word
boxes from the font's own metrics, as OCR would give them), handwriting-like strokes drawn
with OpenCV, stray marks. The benchmark's held-out family is in bench/deficiency.py."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chartclerk.deficiency import Box, PageInput, PageWord

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DPI = 150
W, H = round(8.5 * DPI), round(11 * DPI)

Mark = str  # "signed", "pencil", "thick", "unsigned", "stamp", "check", "staple", "fax"


@dataclass
class Sheet:
    image: Image.Image
    words: list[PageWord] = field(default_factory=list)
    y: int = 90

    def text(self, x: int, y: int, line: str, size: int = 22) -> tuple[int, int, int, int]:
        draw = ImageDraw.Draw(self.image)
        font = ImageFont.truetype(FONT, size)
        cx = x
        first: tuple[int, int, int, int] | None = None
        last = (x, y, x, y)
        for word in line.split(" "):
            if word:
                x0, t, r, b = (round(v) for v in draw.textbbox((cx, y), word, font=font))
                draw.text((cx, y), word, font=font, fill=0)
                self.words.append(PageWord(word, Box(x0 / W, t / H, (r - x0) / W, (b - t) / H), 93.0))
                first = first or (x0, t, r, b)
                last = (x0, t, r, b)
            cx += round(draw.textlength(word + " ", font=font))
        return (first or last)[0], min((first or last)[1], last[1]), last[2], max((first or last)[3], last[3])

    def line(self, x0: int, x1: int, y: int) -> None:
        cv2.line(self.arr(), (x0, y), (x1, y), 0, 2)

    def arr(self) -> np.ndarray:
        a = np.asarray(self.image).copy()
        return a

    def page(self, number: int = 1, text_source: str = "ocr") -> PageInput:
        arr = np.asarray(self.image, dtype=np.uint8).copy()
        text = "\n".join(" ".join(w.text for w in line) for line in _lines(self.words))
        return PageInput(number, tuple(self.words), text, text_source, arr, DPI)


def _lines(words: list[PageWord]) -> list[list[PageWord]]:
    rows: dict[int, list[PageWord]] = {}
    for w in words:
        rows.setdefault(round((w.box.top + w.box.height / 2) * H / 12), []).append(w)
    return [sorted(r, key=lambda w: w.box.left) for _, r in sorted(rows.items())]


def blank(rng: random.Random) -> Sheet:
    img = Image.new("L", (W, H), 250 - rng.randint(0, 8))
    return Sheet(img)


def scribble(arr: np.ndarray, x: int, y: int, width: int, rng: random.Random, *, pen: int = 2,
             gray: int = 20, strokes: int | None = None, height: int = 34) -> None:  # fmt: skip
    """A handwriting-like signature: a few cursive strokes (loops, waves, a descender) left to
    right, about ``height`` pixels tall, sitting on the line at ``y``."""
    strokes = strokes or rng.randint(2, 4)
    seg = width / strokes
    for s in range(strokes):
        x0 = x + s * seg + rng.uniform(0, 6)
        loops = max(2, round(seg / rng.uniform(20, 30)))
        amp = height * rng.uniform(0.6, 1.0)
        slant = rng.uniform(0.1, 0.4)
        pts = []
        for k in range(24 * loops):
            t = k / (24 * loops - 1)
            up = abs(math.sin(t * loops * math.pi)) * amp * (0.6 + 0.4 * math.sin(t * 7 + s))
            px = x0 + t * seg * 0.85 + slant * up + 5 * math.sin(t * loops * 2 * math.pi)
            py = y - 3 - up + (height * 0.35 if rng.random() < 0.02 else 0) + rng.uniform(-0.8, 0.8)
            pts.append((round(px), round(py)))
        cv2.polylines(arr, [np.array(pts, np.int32)], False, gray, pen, cv2.LINE_AA)


def stamp(arr: np.ndarray, x: int, y: int) -> None:
    cv2.rectangle(arr, (x, y - 42), (x + 230, y + 6), 60, 3)
    cv2.putText(arr, "SIGNATURE ON", (x + 10, y - 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 60, 2)
    cv2.putText(arr, "FILE 11/03/26", (x + 10, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 60, 2)


def checkmark(arr: np.ndarray, x: int, y: int) -> None:
    cv2.polylines(arr, [np.array([(x, y - 12), (x + 8, y), (x + 26, y - 30)], np.int32)], False, 20, 3)


def staple(arr: np.ndarray, x: int, y: int) -> None:
    cv2.line(arr, (x, y - 20), (x + 60, y - 28), 70, 12, cv2.LINE_AA)
    cv2.GaussianBlur(arr, (1, 1), 0, dst=arr)


def fax_line(arr: np.ndarray, y: int) -> None:
    arr[y : y + 2, :] = 40


def signature_form(rng: random.Random, mark: Mark, *, dated: bool = True, below: bool = False,
                   label: str = "Physician Signature:") -> PageInput:  # fmt: skip
    """One page of a note ending with a signature area marked ``mark``."""
    sheet = blank(rng)
    sheet.text(90, 80, "PROGRESS NOTE", 30)
    sheet.text(90, 130, "Patient: DOE, JANE   MRN: 00012345   DOB: 03/07/1954")
    for i in range(8):
        sheet.text(90, 180 + 34 * i, "Patient seen and examined today, tolerating diet, plan unchanged.")
    arr = np.asarray(sheet.image).copy()
    y = 620
    if below:
        cv2.line(arr, (90, y), (520, y), 0, 2)
        cv2.line(arr, (640, y), (900, y), 0, 2)
        sheet.image = Image.fromarray(arr)
        sheet.text(90, y + 8, label.rstrip(":"))
        sheet.text(640, y + 8, "Date")
        arr = np.asarray(sheet.image).copy()
        sig_x, sig_y, date_x = 110, y - 4, 660
    else:
        sheet.image = Image.fromarray(arr)
        _, _, r, _ = sheet.text(90, y - 24, label)
        _, _, date_r, _ = sheet.text(760, y - 24, "Date:")
        arr = np.asarray(sheet.image).copy()
        cv2.line(arr, (r + 10, y), (740, y), 0, 2)
        cv2.line(arr, (date_r + 8, y), (1100, y), 0, 2)
        sig_x, sig_y, date_x = r + 20, y - 4, date_r + 15
    if mark in ("signed", "pencil", "thick"):
        pen, gray = {"signed": (2, 20), "pencil": (1, 175), "thick": (5, 10)}[mark]
        scribble(arr, sig_x, sig_y, rng.randint(230, 330), rng, pen=pen, gray=gray)
        if dated:
            scribble(arr, date_x, sig_y, 130, rng, pen=2, gray=30, strokes=3, height=22)
    elif mark == "stamp":
        stamp(arr, sig_x, sig_y)
    elif mark == "check":
        checkmark(arr, sig_x + 30, sig_y)
    elif mark == "staple":
        staple(arr, sig_x + 40, sig_y)
    elif mark == "fax":
        fax_line(arr, sig_y - 20)
    sheet.image = Image.fromarray(arr)
    if mark == "frameless stamp":  # a stamp's words only, as OCR reads them (no frame to find)
        sheet.text(sig_x + 10, sig_y - 26, "RECEIVED NOV 03 2026", 20)
    return sheet.page()


def stacked_form(rng: random.Random, *, tall_mark: bool = False) -> PageInput:
    """Two unsigned signature areas stacked one above the other ("Patient/guardian signature",
    "Witness signature", each with its date). ``tall_mark``: a staple's shadow down the right
    margin across both areas, which OCR reads as one tall word between the two label lines."""
    sheet = blank(rng)
    sheet.text(90, 80, "CONSENT FOR TREATMENT", 30)
    sheet.text(90, 130, "Patient: DOE, JANE   MRN: 00012345   DOB: 03/07/1954")
    for i in range(6):
        sheet.text(90, 180 + 34 * i, "I consent to the treatment described and was given the chance to ask.")
    y = 520
    for label in ("Patient/guardian signature:", "Witness signature:"):
        _, _, r, _ = sheet.text(90, y - 24, label)
        _, _, date_r, _ = sheet.text(760, y - 24, "Date:")
        arr = np.asarray(sheet.image).copy()
        cv2.line(arr, (r + 10, y), (740, y), 0, 2)
        cv2.line(arr, (date_r + 8, y), (1100, y), 0, 2)
        sheet.image = Image.fromarray(arr)
        y += 130
    if tall_mark:
        arr = np.asarray(sheet.image).copy()
        cv2.line(arr, (1160, 490), (1175, 640), 70, 8)
        sheet.image = Image.fromarray(arr)
        sheet.words.append(PageWord("I", Box(1155 / W, 490 / H, 25 / W, 152 / H), 31.0))
    return sheet.page()


def text_page(number: int, lines: list[str]) -> PageInput:
    """A page with these lines and word boxes, no image (for the text-only checks)."""
    sheet = blank(random.Random(number))
    for i, line in enumerate(lines):
        sheet.text(90, 90 + 34 * i, line)
    return PageInput(number, tuple(sheet.words), "\n".join(lines), "ocr", None, DPI)


def verbal_order_form(rng: random.Random, signed: bool) -> PageInput:
    sheet = blank(rng)
    sheet.text(90, 80, "PHYSICIAN ORDERS", 30)
    sheet.text(90, 130, "Patient: DOE, JANE   MRN: 00012345")
    sheet.text(90, 200, "11/02/26 14:10 V.O. Dr. Patel: metoprolol 25 mg PO twice daily. Read back.")
    _, _, r, _ = sheet.text(90, 250, "Prescriber signature:")
    arr = np.asarray(sheet.image).copy()
    cv2.line(arr, (r + 10, 274), (740, 274), 0, 2)
    if signed:
        scribble(arr, r + 20, 270, 260, rng)
    sheet.image = Image.fromarray(arr)
    sheet.text(760, 250, "Date: 11/02/26")
    return sheet.page()


def archive_pages(archive: Any, folder: Any, pages: list[PageInput], *, mrn: str | None,
                  doc_type: str = "progress_note") -> int:  # fmt: skip
    """Archive a document made of these generated pages (page PDFs with their images), as the
    pipeline would; returns its id."""
    import hashlib

    from chartclerk.store import DocumentRecord, PageRecord, SourceRecord, make_page_pdf
    from chartclerk.store.models import WordBox

    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("scan-*.pdf")))
    files = []
    for page in pages:
        assert page.image is not None
        path = folder / f"page-{n}-{page.number}.pdf"
        path.write_bytes(make_page_pdf(page.image, DPI, b""))
        files.append(path)
    source_path = folder / f"scan-{n}.pdf"
    data = b"%PDF-1.4 synthetic form " + str(n).encode() * 64
    source_path.write_bytes(data)
    source = SourceRecord(
        source_path, source_path.name, hashlib.sha256(data).hexdigest(), len(data), len(pages)
    )
    archive.store_original(source)
    record = DocumentRecord(
        source=source, source_pages=(1, len(pages)), doc_type=doc_type, loinc=None, type_confidence=0.9,
        patient_mrn=mrn, patient_confidence=0.99 if mrn else None, status="filed" if mrn else "review",
        review_reason=None if mrn else "no roster match", match_reason="test", candidates=(),
        pages=tuple(
            PageRecord(p.number, p.number, 0.0, 0, 90.0, p.text, f, words=tuple(
                WordBox(w.text, w.box.left, w.box.top, w.box.width, w.box.height, w.confidence)
                for w in p.words
            ))
            for p, f in zip(pages, files, strict=True)
        ),
    )  # fmt: skip
    doc_id: int = archive.archive_document(record).id
    archive.complete_source(source.sha256)
    return doc_id
