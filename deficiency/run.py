"""The analysis over the archive: each document not yet analysed (or re-filed since) is read
from its archived searchable PDF (a scanned page's own pixels taken from under its invisible
text, a digital page rendered by poppler at ``work_dpi``, both through
``ingest.archived_page_image``; only pages with a signature label), its findings stored; then
the charts of the patients concerned are checked."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass

from chartclerk.deficiency.chart import ChartDocument, find_chart_deficiencies
from chartclerk.deficiency.detect import find_document_deficiencies, is_signature_label
from chartclerk.deficiency.models import Box, Finding, PageInput, PageWord, PatientInfo
from chartclerk.errors import ChartclerkError
from chartclerk.ingest.rasterize import archived_page_image
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.store.deficiencies import (
    FindingRecord,
    StoredPage,
    documents_to_scan,
    patient_documents,
    save_chart_findings,
    save_document_findings,
    stored_pages,
)

__all__ = ["ANALYSIS_VERSION", "ScanReport", "analyze_document", "scan_archive"]

log = logging.getLogger(__name__)

ANALYSIS_VERSION = 2  # raise when the detectors change: every document is read again
_BATCH = 50  # documents whose findings are written in one transaction
_CHART_TYPES = ("history_physical", "discharge_summary", "operative_report", "consent_form")


@dataclass(frozen=True, slots=True)
class ScanReport:
    documents: int
    pages: int
    findings: int
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time (what the analysis costs on a machine shared with others)
    failed: tuple[int, ...] = ()


def scan_archive(archive: Archive, settings: Settings, *, limit: int | None = None,
                 today: dt.date | None = None) -> ScanReport:  # fmt: skip
    """Analyse every document not analysed yet (at most ``limit``), then the charts of their patients."""
    start, cpu = time.perf_counter(), time.process_time()
    pending = documents_to_scan(archive, ANALYSIS_VERSION, limit)
    pages = findings = 0
    failed: list[int] = []
    patients: set[str] = set()
    batch: list[tuple[int, str, list[FindingRecord]]] = []
    for doc_id, pdf_sha in pending:
        try:
            info, stored = stored_pages(archive, doc_id)
            found = analyze_document(archive, settings, doc_id, info["patient_mrn"], stored)
        except ChartclerkError as e:
            log.warning("document %d: deficiency analysis failed (%s)", doc_id, type(e).__name__)
            failed.append(doc_id)
            continue
        batch.append((doc_id, pdf_sha, [_record(f) for f in found]))
        pages += len(stored)
        if info["patient_mrn"]:
            patients.add(info["patient_mrn"])
        if len(batch) >= _BATCH:
            findings += save_document_findings(archive, batch, ANALYSIS_VERSION)
            batch = []
    if batch:
        findings += save_document_findings(archive, batch, ANALYSIS_VERSION)
    for mrn in sorted(patients):
        findings += check_chart(archive, settings, mrn, today or dt.date.today())
    return ScanReport(
        len(pending) - len(failed),
        pages,
        findings,
        time.perf_counter() - start,
        time.process_time() - cpu,
        tuple(failed),
    )


def check_chart(archive: Archive, settings: Settings, mrn: str, today: dt.date) -> int:
    docs = [
        ChartDocument(d["id"], d["type"], d["text"], d["created_at"].date())
        for d in patient_documents(archive, mrn, _CHART_TYPES)
    ]
    found = find_chart_deficiencies(docs, settings.deficiencies, today)
    return save_chart_findings(archive, mrn, map(_record, found))


def analyze_document(
    archive: Archive, settings: Settings, doc_id: int, mrn: str | None, stored: list[StoredPage]
) -> tuple[Finding, ...]:
    """One document's findings, its pages looked at in the archived PDF."""
    pdf = archive.pdf_path(doc_id)
    dpi = settings.deficiencies.work_dpi
    ingest = settings.ingest.model_copy(update={"dpi": dpi})
    patient = None
    if mrn:
        p = archive.roster.by_mrn(mrn)
        patient = PatientInfo(p.mrn, p.last, p.first) if p else PatientInfo(mrn, "", "")
    pages = []
    for page in stored:
        words = page_words(page.words_json)
        needs_image = any(is_signature_label(w.text) for w in words)
        image, image_dpi = (
            archived_page_image(pdf, page.number, ingest) if needs_image else (None, float(dpi))
        )
        pages.append(PageInput(page.number, words, page.text, page.text_source, image, image_dpi))
    return find_document_deficiencies(pages, patient, document_id=doc_id)


def page_words(value: str) -> tuple[PageWord, ...]:
    return tuple(
        PageWord(
            str(t), Box(float(left), float(top), float(w), float(h)), None if conf is None else float(conf)
        )
        for t, left, top, w, h, conf in json.loads(value)
    )


def _record(f: Finding) -> FindingRecord:
    assert f.document_id is not None
    return FindingRecord(f.document_id, f.kind, f.detail, f.page, f.region.as_list() if f.region else None,
                         f.words, f.sure)  # fmt: skip
