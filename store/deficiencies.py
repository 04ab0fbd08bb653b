"""Chart deficiencies in the database: the findings of each document (kept when found again,
replaced when the document's PDF or the analysis changes), the work list, and a clerk's
resolution or dismissal (who, when, why; recorded in the row and in the audit log).

The analysis itself (page images, ink) is ``chartclerk.deficiency``; this module only stores."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.store.archive import Archive
from chartclerk.store.db import session_scope, write_engine
from chartclerk.store.tables import DeficiencyRow, DeficiencyScanRow, DocumentRow, SourceRow, utcnow

__all__ = [
    "CHART_KINDS",
    "FindingRecord",
    "StoredPage",
    "close_finding",
    "document_findings",
    "documents_to_scan",
    "list_findings",
    "patient_documents",
    "save_chart_findings",
    "save_document_findings",
    "stored_pages",
]

CHART_KINDS = ("consent_after_procedure", "document_missing")  # found over a patient's chart


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding to store: ``region`` [left, top, width, height] in page fractions."""

    document_id: int
    kind: str
    detail: str
    page: int | None
    region: list[float] | None
    words: str
    sure: bool

    @property
    def key(self) -> str:
        raw = json.dumps(
            [self.kind, self.page, self.region and [round(v, 2) for v in self.region], self.detail]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class StoredPage:
    number: int
    text: str
    words_json: str
    text_source: str


def documents_to_scan(archive: Archive, version: int, limit: int | None = None) -> list[tuple[int, str]]:
    """(id, pdf sha256) of documents never analysed, or analysed from another PDF or version."""
    scanned = select(DeficiencyScanRow.document_id).where(
        DeficiencyScanRow.document_id == DocumentRow.id,
        DeficiencyScanRow.pdf_sha256 == DocumentRow.pdf_sha256,
        DeficiencyScanRow.version == version,
    )
    query = select(DocumentRow.id, DocumentRow.pdf_sha256).where(~scanned.exists()).order_by(DocumentRow.id)
    if limit is not None:
        query = query.limit(limit)
    with session_scope(archive.engine) as session:
        return [(r.id, r.pdf_sha256) for r in session.execute(query)]


def stored_pages(archive: Archive, doc_id: int) -> tuple[dict[str, Any], list[StoredPage]]:
    """A document's type, patient, archive date and pages (text, word boxes), for the analysis."""
    with session_scope(archive.engine) as session:
        row = session.get(DocumentRow, doc_id, options=[selectinload(DocumentRow.pages)])
        if row is None:
            raise NotFoundError(f"document {doc_id} not found")
        info = {
            "id": row.id,
            "type": row.doc_type,
            "patient_mrn": row.patient_mrn,
            "created_at": row.created_at,
        }
        pages = [StoredPage(p.number, p.text, p.words, p.text_source) for p in row.pages]
    return info, pages


def patient_documents(archive: Archive, mrn: str, types: Iterable[str]) -> list[dict[str, Any]]:
    """Id, type, archive date and text of a patient's documents of these types."""
    query = (
        select(DocumentRow)
        .where(DocumentRow.patient_mrn == mrn, DocumentRow.doc_type.in_(list(types)))
        .options(selectinload(DocumentRow.pages))
        .order_by(DocumentRow.id)
    )
    with session_scope(archive.engine) as session:
        return [
            {
                "id": r.id,
                "type": r.doc_type,
                "created_at": r.created_at,
                "text": "\n\f".join(p.text for p in r.pages),
            }
            for r in session.scalars(query)
        ]


def save_document_findings(
    archive: Archive, batch: Iterable[tuple[int, str, Iterable[FindingRecord]]], version: int
) -> int:
    """For each (document id, its PDF's sha256, findings) of ``batch``, in one transaction:
    replace the document's open per-document findings by these (a finding found again keeps
    its row and its age; one a clerk closed stays closed) and note which PDF was read. Returns
    how many findings the batch holds."""
    total = 0
    with session_scope(write_engine(archive.engine)) as session:
        for doc_id, pdf_sha256, findings in batch:
            records = {f.key: f for f in findings}
            total += len(records)
            mrn = session.scalar(select(DocumentRow.patient_mrn).where(DocumentRow.id == doc_id))
            existing = {
                r.key: r
                for r in session.scalars(
                    select(DeficiencyRow).where(
                        DeficiencyRow.document_id == doc_id, DeficiencyRow.kind.not_in(CHART_KINDS)
                    )
                )
            }
            _merge(session, existing, records, mrn)
            scan = session.get(DeficiencyScanRow, doc_id)
            if scan is None:
                session.add(DeficiencyScanRow(document_id=doc_id, pdf_sha256=pdf_sha256, version=version))
            else:
                scan.pdf_sha256, scan.version, scan.scanned_at = pdf_sha256, version, utcnow()
    return total


def save_chart_findings(archive: Archive, mrn: str, findings: Iterable[FindingRecord]) -> int:
    """Replace the open chart findings (missing documents, late consents) of a patient's documents."""
    records = {(f.document_id, f.key): f for f in findings}
    with session_scope(write_engine(archive.engine)) as session:
        docs = select(DocumentRow.id).where(DocumentRow.patient_mrn == mrn)
        rows = session.scalars(
            select(DeficiencyRow).where(
                DeficiencyRow.document_id.in_(docs), DeficiencyRow.kind.in_(CHART_KINDS)
            )
        )
        existing = {(r.document_id, r.key): r for r in rows}
        _merge(session, existing, records, mrn)
    return len(records)


def _merge(
    session: Any, existing: dict[Any, DeficiencyRow], records: dict[Any, FindingRecord], mrn: str | None
) -> None:
    for key, row in existing.items():
        if key not in records and row.status == "open":
            session.delete(row)
    for key, f in records.items():
        kept = existing.get(key)
        if kept is not None:
            kept.patient_mrn = mrn
            continue
        session.add(
            DeficiencyRow(
                document_id=f.document_id, patient_mrn=mrn, kind=f.kind, key=f.key, page=f.page,
                region=json.dumps(f.region) if f.region else None, words=f.words, detail=f.detail,
                sure=f.sure, status="open",
            )
        )  # fmt: skip


def list_findings(
    archive: Archive,
    *,
    patient: str | None = None,
    kind: str | None = None,
    older_than_days: int | None = None,
    status: str = "open",
    document_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The work list: findings oldest first (by their document's archive date), with the page
    and region of each. The read is recorded in the audit log."""
    query = (
        select(DeficiencyRow, DocumentRow.doc_type, DocumentRow.created_at, SourceRow.name,
               DocumentRow.first_page, DocumentRow.last_page)
        .join(DocumentRow, DocumentRow.id == DeficiencyRow.document_id)
        .join(SourceRow, SourceRow.sha256 == DocumentRow.source_sha256)
        .order_by(DocumentRow.created_at, DeficiencyRow.document_id, DeficiencyRow.page, DeficiencyRow.id)
    )  # fmt: skip
    if status != "all":
        query = query.where(DeficiencyRow.status == status)
    if patient is not None:
        query = query.where(DeficiencyRow.patient_mrn == patient.strip())
    if kind is not None:
        query = query.where(DeficiencyRow.kind == kind)
    if document_id is not None:
        query = query.where(DeficiencyRow.document_id == document_id)
    if older_than_days is not None:
        cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
        query = query.where(DocumentRow.created_at <= cutoff)
    with session_scope(archive.engine) as session:
        items = [
            {**_row_dict(r), "type": t, "archived": c.isoformat(), "source": n, "source_pages": [a, b]}
            for r, t, c, n, a, b in session.execute(query)
        ]
    archive.record_access(
        "deficiencies",
        {"documents": sorted({i["document_id"] for i in items}), "kind": kind, "status": status,
         "older_than_days": older_than_days},
        [patient, *(i["patient_mrn"] for i in items)],
    )  # fmt: skip
    return items


def document_findings(archive: Archive, doc_id: int) -> list[dict[str, Any]]:
    """Every finding of one document (open and closed), by page; part of ``show`` (audited there)."""
    query = (
        select(DeficiencyRow)
        .where(DeficiencyRow.document_id == doc_id)
        .order_by(DeficiencyRow.page, DeficiencyRow.id)
    )
    with session_scope(archive.engine) as session:
        return [_row_dict(r) for r in session.scalars(query)]


def close_finding(
    archive: Archive, finding_id: int, status: Literal["resolved", "dismissed"], user: str, reason: str
) -> dict[str, Any]:
    """A clerk resolves (the deficiency was fixed: signed, page found) or dismisses (not a
    deficiency) a finding; who, when and why are kept and the change is in the audit log."""
    reason = reason.strip()
    if not reason:
        raise ArchiveError("say why (a reason is required)")
    with session_scope(write_engine(archive.engine)) as session:
        row = session.get(DeficiencyRow, finding_id)
        if row is None:
            raise NotFoundError(f"finding {finding_id} not found")
        if row.status != "open":
            raise ArchiveError(f"finding {finding_id} is already {row.status}")
        row.status, row.closed_at, row.closed_by, row.reason = status, utcnow(), user, reason[:2000]
        session.flush()
        item = _row_dict(row)
    archive.record_access(
        f"deficiency {status}",
        {
            "documents": [item["document_id"]],
            "finding": finding_id,
            "kind": item["kind"],
            "reason": reason[:2000],
        },
        [item["patient_mrn"]],
    )
    return item


def _row_dict(r: DeficiencyRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "document_id": r.document_id,
        "patient_mrn": r.patient_mrn,
        "kind": r.kind,
        "page": r.page,
        "region": json.loads(r.region) if r.region else None,
        "words": r.words,
        "detail": r.detail,
        "sure": r.sure,
        "status": r.status,
        "found_at": r.found_at.isoformat(),
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "closed_by": r.closed_by,
        "reason": r.reason,
    }
