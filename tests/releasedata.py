"""Synthetic archives for the release and FHIR tests: filed documents whose pages show drawn
words and carry them as an invisible text layer (as the pipeline's searchable PDFs do)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import pikepdf
from sqlalchemy import update

from chartclerk.store import Archive, DocumentRecord, PageRecord, SourceRecord, make_page_pdf
from chartclerk.store.db import session_scope, write_engine
from chartclerk.store.tables import DocumentRow
from chartclerk.tests.webdata import DPI, SIZE, draw_page


def text_layer(words: str, width_pt: float, height_pt: float) -> bytes:
    """A one-page PDF with ``words`` as invisible text (render mode 3), like tesseract's."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(width_pt, height_pt))
        page = pdf.pages[0]
        font = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica")
        )
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(
            f"BT /F1 12 Tf 3 Tr 60 {height_pt - 80:.1f} Td ({words}) Tj ET".encode("ascii")
        )
        buffer = io.BytesIO()
        pdf.save(buffer)
        return buffer.getvalue()


def add_text_document(
    archive: Archive,
    folder: Path,
    pages: Sequence[str],
    *,
    mrn: str | None,
    doc_type: str = "lab_report",
    loinc: str | None = "11502-2",
    when: dt.datetime | None = None,
) -> int:
    """Archive one document of these pages (one line of words each, drawn and as text layer)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("scan-*.pdf")))
    width_pt, height_pt = SIZE[0] * 72 / DPI, SIZE[1] * 72 / DPI
    page_files = []
    for i, words in enumerate(pages, start=1):
        image = draw_page([words]).image
        path = folder / f"page-{n}-{i}.pdf"
        path.write_bytes(make_page_pdf(image, DPI, text_layer(words, width_pt, height_pt)))
        page_files.append(path)
    data = b"%PDF-1.4 synthetic release scan " + str(n).encode() * 100
    source_path = folder / f"scan-{n}.pdf"
    source_path.write_bytes(data)
    source = SourceRecord(
        source_path, source_path.name, hashlib.sha256(data).hexdigest(), len(data), len(pages)
    )
    archive.store_original(source)
    record = DocumentRecord(
        source=source,
        source_pages=(1, len(pages)),
        doc_type=doc_type,
        loinc=loinc,
        type_confidence=0.9,
        patient_mrn=mrn,
        patient_confidence=0.97 if mrn else None,
        status="filed" if mrn else "review",
        review_reason=None if mrn else "no roster match",
        match_reason="mrn agrees" if mrn else "none",
        candidates=(),
        pages=tuple(
            PageRecord(i, i, 0.0, 0, 95.0, words, path)
            for i, (words, path) in enumerate(zip(pages, page_files, strict=True), start=1)
        ),
    )
    doc_id = archive.archive_document(record).id
    archive.complete_source(source.sha256)
    if when is not None:
        with session_scope(write_engine(archive.engine)) as session:
            session.execute(update(DocumentRow).where(DocumentRow.id == doc_id).values(created_at=when))
    return doc_id
