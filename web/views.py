"""What each page shows, as plain JSON-ready data: the HTML page renders it with a template and
its ``/api/`` twin returns it as it is. Each function calls the same library methods the CLI
calls (``Archive.search``, ``get_document``, ``list_documents``, ``review_queue``,
``audit_log``...), which record the read in the audit log. No SQL here."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from chartclerk.classify import DOC_TYPES
from chartclerk.classify.models import Patient
from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.store import Archive, SearchHit
from chartclerk.store.hits import hit_boxes
from chartclerk.store.lookup import find_patients
from chartclerk.store.review import review_queue

__all__ = [
    "MAX_SEARCH_HITS",
    "SearchForm",
    "audit_view",
    "chart_view",
    "document_view",
    "hit_json",
    "parse_id",
    "patient_json",
    "review_view",
    "search_view",
    "snippet_parts",
]

MAX_SEARCH_HITS = 1000  # most hits a search ranks for one results page (filters after the search)
_ID = re.compile(r"[1-9][0-9]{0,9}")
_MARK = re.compile(r"\[([^\[\]]*)\]")


def parse_id(value: str) -> int:
    """A document id or page number from a URL: digits only, else the same not-found error as an
    id that does not exist (no path tricks, nothing told)."""
    if not _ID.fullmatch(value):
        raise NotFoundError("not found")
    return int(value)


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A search snippet (matches in [ ]) as (text, is_match) parts, for a template to escape."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for m in _MARK.finditer(snippet):
        if m.start() > at:
            parts.append((snippet[at : m.start()], False))
        parts.append((m.group(1), True))
        at = m.end()
    if at < len(snippet):
        parts.append((snippet[at:], False))
    return parts


def patient_json(p: Patient) -> dict[str, Any]:
    return {"mrn": p.mrn, "last": p.last, "first": p.first, "dob": p.dob.isoformat(), "sex": p.sex}


def hit_json(h: SearchHit) -> dict[str, Any]:
    """The CLI's ``search --json`` object (keys may be added, never removed or renamed)."""
    return {
        "document_id": h.document_id,
        "page": h.page,
        "snippet": h.snippet,
        "score": h.score,
        "type": h.doc_type,
        "patient_mrn": h.patient_mrn,
        "source": h.source,
    }


@dataclass(frozen=True, slots=True)
class SearchForm:
    query: str = ""
    patient: str | None = None
    doc_type: str | None = None
    status: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1

    @property
    def post_filters(self) -> bool:
        return bool(self.status or self.date_from or self.date_to)


def search_view(archive: Archive, form: SearchForm, per_page: int) -> dict[str, Any]:
    """One page of results: hits best first with their patients (from the roster), archive date
    and status, plus the roster patients the query names (an MRN or a name)."""
    if form.doc_type is not None and form.doc_type not in DOC_TYPES:
        raise ArchiveError("unknown document type")
    if form.status not in (None, "filed", "review"):
        raise ArchiveError("status is filed or review")
    offset = (form.page - 1) * per_page
    limit = MAX_SEARCH_HITS if form.post_filters else offset + per_page + 1
    hits: list[SearchHit] = []
    if form.query.strip():
        hits = archive.search(form.query, patient=form.patient, doc_type=form.doc_type, limit=limit)
    summaries = archive.document_summaries(h.document_id for h in hits)
    kept = []
    for h in hits:
        info = summaries.get(h.document_id)
        if info is None:
            continue
        day = info["created_at"].date()
        if form.status and info["status"] != form.status:
            continue
        if (form.date_from and day < form.date_from) or (form.date_to and day > form.date_to):
            continue
        kept.append((h, info))
    shown = kept[offset : offset + per_page]
    people = archive.roster.patients(h.patient_mrn for h, _ in shown if h.patient_mrn)
    named = find_patients(archive, form.query) if form.query.strip() and form.page == 1 else []
    results = [
        {
            **hit_json(h),
            "snippet_parts": snippet_parts(h.snippet),
            "patient": patient_json(people[h.patient_mrn]) if h.patient_mrn in people else None,
            "status": info["status"],
            "archived": info["created_at"].date().isoformat(),
            "source_pages": info["source_pages"],
        }
        for h, info in shown
    ]
    return {
        "query": form.query,
        "filters": {
            "patient": form.patient,
            "type": form.doc_type,
            "status": form.status,
            "from": form.date_from.isoformat() if form.date_from else None,
            "to": form.date_to.isoformat() if form.date_to else None,
        },
        "page": form.page,
        "per_page": per_page,
        "has_next": len(kept) > offset + per_page,
        "results": results,
        "patients": [patient_json(p) for p in named],
    }


def document_view(archive: Archive, doc_id: int, query: str | None) -> dict[str, Any]:
    """The viewer: the document (``show --json``: metadata and page text), its corrections, its
    patient, and per page the boxes of the words matching ``query`` (the session's last search)."""
    doc = archive.get_document(doc_id, with_text=True)  # audited: "show"
    history = archive.document_history(doc_id)
    patient = archive.roster.patients([doc["patient_mrn"]]).get(doc["patient_mrn"] or "")
    hits: list[dict[str, Any]] = []
    for page in doc["pages"]:
        boxes = hit_boxes(archive.page_words(doc_id, page["number"]), query) if query else []
        page["hits"] = [
            {"left": b.left, "top": b.top, "width": b.width, "height": b.height, "term": b.term}
            for b in boxes
        ]
        hits.extend({"page": page["number"], "index": i} for i in range(len(boxes)))
    return {
        "document": doc,
        "history": history,
        "patient": patient_json(patient) if patient else None,
        "query": query,
        "hit_count": len(hits),
    }


def chart_view(archive: Archive, mrn: str) -> dict[str, Any]:
    """The patient's chart: roster details and every document, grouped by type (in the order of
    the type list), newest first within a type."""
    patient = archive.roster.by_mrn(mrn)
    if patient is None:
        raise NotFoundError("not found")
    docs = archive.list_documents(patient=patient.mrn)  # audited: "list" with the patient
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in sorted(docs, key=lambda d: d["created_at"], reverse=True):
        groups[doc["type"]].append(doc)
    order = {t: i for i, t in enumerate(DOC_TYPES)}
    return {
        "patient": patient_json(patient),
        "documents": len(docs),
        "groups": [
            {"type": t, "documents": groups[t]} for t in sorted(groups, key=lambda t: (order.get(t, 99), t))
        ],
    }


def review_view(archive: Archive) -> dict[str, Any]:
    """The review queue (``review --json``) and the types a clerk may choose."""
    return {"items": [item.as_dict() for item in review_queue(archive)], "types": list(DOC_TYPES)}


def audit_view(
    archive: Archive,
    *,
    user: str | None,
    patient: str | None,
    since: dt.date | None,
    until: dt.date | None,
    limit: int = 500,
) -> dict[str, Any]:
    """Audit entries (newest first, at most ``limit``) and whether the hash chain verifies."""
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) if until else None
    entries = archive.audit_log(patient=patient, since=start, until=end, user=user)
    report = archive.verify_audit()
    newest = [e.as_dict() for e in reversed(entries[-limit:])]
    return {
        "entries": newest,
        "total": len(entries),
        "chain": {
            "ok": report.ok,
            "entries": report.entries,
            "head": report.head,
            "problems": report.problems,
        },
    }
