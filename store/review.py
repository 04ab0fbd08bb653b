"""The review queue as a clerk's work list: each document in review with why it is there and
the roster patients it might belong to (best first), as stored when it was matched.

A clerk resolves an item with ``Archive.file_document`` (``chartclerk file ID --patient MRN``),
which records who changed what, when, from what to what.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chartclerk.classify.models import Patient
from chartclerk.store.archive import Archive

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReviewCandidate:
    mrn: str
    score: float
    patient: Patient | None  # None when the MRN has left the roster since


@dataclass(frozen=True, slots=True)
class ReviewItem:
    document: dict[str, Any]  # as ``Archive.list_documents`` gives it
    candidates: tuple[ReviewCandidate, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the document's keys, with candidates as objects (patient fields inline)."""
        candidates = []
        for c in self.candidates:
            item: dict[str, Any] = {"mrn": c.mrn, "score": c.score}
            if c.patient is not None:
                p = c.patient
                item.update(last=p.last, first=p.first, dob=p.dob.isoformat(), sex=p.sex)
            candidates.append(item)
        return {**{k: v for k, v in self.document.items() if k != "pages"}, "candidates": candidates}


def review_queue(archive: Archive) -> list[ReviewItem]:
    """Documents in review, oldest first, each with its candidates looked up in the roster.

    The candidates' names and DOBs are patient data shown to the clerk: their MRNs are
    recorded in the archive's audit log."""
    docs = archive.list_documents(status="review")
    mrns = {str(mrn) for doc in docs for mrn, _ in doc["candidates"]}
    patients = archive.roster.patients(mrns)
    if mrns:
        archive.record_access("review", {"documents": [d["id"] for d in docs]}, sorted(mrns))
    items = [
        ReviewItem(
            document=doc,
            candidates=tuple(
                ReviewCandidate(str(mrn), float(score), patients.get(str(mrn)))
                for mrn, score in doc["candidates"]
            ),
        )
        for doc in docs
    ]
    log.info("review queue: %d documents", len(items))
    return items
