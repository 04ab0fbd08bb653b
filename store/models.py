"""Data handed to the archive and returned from it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class WordBox:
    """One word on an archived page, where it stands: fractions (0..1) of the archived
    (upright, deskewed) page's width and height, origin top-left, so a viewer can draw it
    over the page image at any resolution."""

    text: str
    left: float
    top: float
    width: float
    height: float
    confidence: float | None = None  # tesseract's 0..100; None for text taken from the file


TextSource = Literal["ocr", "file"]


@dataclass(frozen=True, slots=True)
class PageRecord:
    number: int  # 1-based within the document
    source_page: int  # 1-based within the source file
    skew_degrees: float
    rotation_degrees: int  # 0, 90, 180, 270 clockwise
    ocr_confidence: float | None
    text: str
    pdf_page: Path  # single-page PDF (page image + invisible text) made by the OCR worker
    words: tuple[WordBox, ...] = ()  # in reading order
    text_source: TextSource = "ocr"  # "file": the page's own text layer, "ocr": read by tesseract


@dataclass(frozen=True, slots=True)
class SourceRecord:
    path: Path  # where the original is now (inbox or backlog folder)
    name: str  # original file name, no folder
    sha256: str
    size: int
    page_count: int


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    source: SourceRecord
    source_pages: tuple[int, int]  # first, last (1-based, inclusive)
    doc_type: str
    loinc: str | None
    type_confidence: float
    patient_mrn: str | None
    patient_confidence: float | None
    status: Literal["filed", "review"]
    review_reason: str | None
    match_reason: str
    candidates: tuple[tuple[str, float], ...]
    pages: tuple[PageRecord, ...]


@dataclass(frozen=True, slots=True)
class ArchivedDocument:
    id: int
    pdf_path: Path
    pdf_sha256: str
    status: Literal["filed", "review"]
    created: bool  # False when it was already in the archive


@dataclass(frozen=True, slots=True)
class SearchHit:
    document_id: int
    page: int
    snippet: str  # matched terms wrapped in [ ]
    score: float  # higher is better
    doc_type: str
    patient_mrn: str | None
    source: str


@dataclass(frozen=True, slots=True)
class DocumentFiles:
    """A document's files, for serving them (``Archive.document_files``)."""

    id: int
    pdf: Path  # the searchable PDF
    pdf_sha256: str
    original: Path  # the scanned file it came from, byte for byte
    original_name: str
    patient_mrn: str | None
    pages: int
    updated_at: dt.datetime
