"""Near-duplicate documents: the same paper scanned twice, found by its text.

Byte-identical files are caught when a source is stored; a second scan of the same paper
is not. Each archived document gets a signature (migration 0009, ``doc_signatures``):

- a MinHash of its text's character 5-grams (NUM_PERM permutations), the text folded for
  OCR look-alikes first (chartclerk.store.idents.fold), so that two readings of one page
  share most 5-grams although OCR erred differently in each;
- its numbers: the digit runs of every token holding one (dates, values, amounts, accession
  numbers; ``12/05/2026`` gives 12 05 2026), folded for look-alikes, in reading order,
  separated by spaces.

Candidates come from an LSH index over the MinHash (``doc_buckets``: BANDS bands of ROWS
values, one indexed row per band): a check is BANDS index look-ups whatever the size of
the archive, each reading at most the newest BUCKET_CAP entries of its key (a template
shared by many documents fills a key) and keeping the newest CANDIDATES in scope.
A candidate of the same patient, or where either document is in review (no patient
yet), is a near duplicate when its text similarity (MinHash estimate of the 5-gram
Jaccard) reaches TEXT_THRESHOLD and its numbers agree: the Jaccard of their digit 5-grams
reaches NUMBER_THRESHOLD, or the Dice of their digit runs (multisets, order-free; robust to
a page read poorly or in another order, see :func:`run_similarity`) reaches RUN_THRESHOLD.
The numbers keep apart different documents made from one template (two lab reports of one
patient from one lab on different days share their wording, not their dates, values and
accession numbers). The similarity reported is the smaller of the text's and the numbers'
(the larger of the two number measures).

Nothing is dropped: the new document is archived, marked ``duplicate_of`` the older one
with its similarity, and sent to review. A clerk keeps both (:func:`keep_both`) or marks
one superseded (:func:`supersede`): kept, hidden from the chart and from search unless
asked for.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.store.audit import Actor, append_entry
from chartclerk.store.idents import fold
from chartclerk.store.tables import CorrectionRow, DocBucketRow, DocSignatureRow, DocumentRow

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "Duplicate",
    "Keep",
    "Signature",
    "check_document",
    "find_duplicate",
    "index_signature",
    "number_similarity",
    "resolve_duplicate",
    "run_similarity",
    "signature_of",
    "text_similarity",
]

log = logging.getLogger(__name__)

NUM_PERM: Final = 78
BANDS: Final = 26
ROWS: Final = 3  # BANDS * ROWS = NUM_PERM: a pair of similarity 0.5 shares a band with p = 0.97, 0.2: 0.19
SHINGLE: Final = 5
TEXT_THRESHOLD: Final = 0.5
NUMBER_THRESHOLD: Final = 0.3
RUN_THRESHOLD: Final = 0.75  # seeds 101-103: siblings at most 0.65, rescans 0.67, mostly over 0.9
_DIGIT_GRAM: Final = 5
MIN_RUN: Final = 2  # single digits (page 1 of 1, counts) are in every document
BUCKET_CAP: Final = 2000  # newest documents looked at under one band key
CANDIDATES: Final = 50  # newest in-scope documents kept per band key
_MIN_RUNS: Final = 3  # fewer runs tell nothing apart (a date alone)
_MIN_SHINGLES: Final = 20  # a near-blank page is nobody's duplicate
_PRIME: Final = (1 << 61) - 1
_MASK: Final = (1 << 32) - 1
_params = np.random.default_rng(20261128).integers(1, _MASK, size=(2, NUM_PERM), dtype=np.uint64)
_A, _B = _params[0], _params[1]
_DIGITS = re.compile(r"[0-9]+")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[./:-][A-Za-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Signature:
    minhash: npt.NDArray[np.uint32]  # NUM_PERM values; empty for a text too short to compare
    numbers: str  # the digits of the number tokens, in reading order


@dataclass(frozen=True, slots=True)
class Duplicate:
    document_id: int  # the older document this one duplicates
    similarity: float  # min(text similarity, number similarity)


def signature_of(page_texts: Sequence[str]) -> Signature:
    """The document's MinHash and number tokens (see the module doc)."""
    flat = " ".join(_NOT_WORD.sub(" ", fold(" ".join(page_texts))).split())
    shingles = {zlib.crc32(flat[i : i + SHINGLE].encode()) for i in range(len(flat) - SHINGLE + 1)}
    numbers = " ".join(
        run
        for t in page_texts
        for token in _TOKEN.findall(t)
        if any(c.isdigit() for c in token)
        for run in _DIGITS.findall(fold(token))
    )
    if len(shingles) < _MIN_SHINGLES:
        return Signature(np.zeros(0, dtype=np.uint32), numbers)
    values = np.fromiter(shingles, dtype=np.uint64, count=len(shingles))
    hashed = ((values[:, None] * _A[None, :] + _B[None, :]) % np.uint64(_PRIME)) & np.uint64(_MASK)
    return Signature(hashed.min(axis=0).astype(np.uint32), numbers)


def text_similarity(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """MinHash estimate of the 5-gram Jaccard similarity."""
    if a.size == 0 or a.size != b.size:
        return 0.0
    return float(np.count_nonzero(a == b)) / a.size


def number_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the digit sequences' 5-grams (runs joined, in reading order; 1
    when neither document has digits). A second reading of the same numbers keeps most
    5-grams despite a few misread digits; another day's report of the same template shares
    its wording and reference ranges but hardly any run of five digits (measured: at most
    0.10 against 0.39 and more for rescans read fairly, bench/dedupe.py)."""
    da, db = a.replace(" ", ""), b.replace(" ", "")
    if len(da) < _DIGIT_GRAM or len(db) < _DIGIT_GRAM:
        return 1.0 if da == db else 0.0
    ga = {da[i : i + _DIGIT_GRAM] for i in range(len(da) - _DIGIT_GRAM + 1)}
    gb = {db[i : i + _DIGIT_GRAM] for i in range(len(db) - _DIGIT_GRAM + 1)}
    return len(ga & gb) / len(ga | gb)


def run_similarity(a: str, b: str) -> float:
    """Dice similarity of the two documents' digit runs of at least MIN_RUN digits, as
    multisets (each number token split at its punctuation: ``12/05/2026`` gives 12, 05, 2026).

    Robust where the 5-grams are not: order-free, so a reading that takes a table column by
    column, or reads ``854.21`` as ``854 21``, still agrees run for run, and a misread digit
    costs one run rather than up to five 5-grams across two numbers. Less sharp against
    template siblings (the birth date, the year, doses and reference ranges recur), hence its
    own, higher threshold RUN_THRESHOLD. 0 for signatures stored before the runs were
    separated by spaces (one run each) and for documents of fewer than _MIN_RUNS runs."""
    runs_a = Counter(r for r in a.split() if len(r) >= MIN_RUN)
    runs_b = Counter(r for r in b.split() if len(r) >= MIN_RUN)
    if runs_a.total() < _MIN_RUNS or runs_b.total() < _MIN_RUNS:
        return 0.0  # too few numbers to tell two documents apart
    return 2 * (runs_a & runs_b).total() / (runs_a.total() + runs_b.total())


def _band_keys(minhash: npt.NDArray[np.uint32]) -> list[int]:
    """One 64-bit key per band: the band number above a 32-bit hash of its ROWS values."""
    return [
        (band << 40) | zlib.crc32(minhash[band * ROWS : (band + 1) * ROWS].tobytes()) for band in range(BANDS)
    ]


def find_duplicate(session: Session, doc: DocumentRow, sig: Signature) -> Duplicate | None:
    """The most similar older document that ``doc`` is a near duplicate of, if any."""
    if sig.minhash.size == 0:
        return None
    candidates: set[int] = set()
    for key in _band_keys(sig.minhash):
        # The newest BUCKET_CAP documents under each key, then the scope: a template shared by
        # a hundred thousand documents costs no more than BANDS x BUCKET_CAP index entries.
        newest = (
            select(DocBucketRow.document_id)
            .where(DocBucketRow.key == key, DocBucketRow.document_id != doc.id)
            .order_by(DocBucketRow.document_id.desc())
            .limit(BUCKET_CAP)
            .subquery()
        )
        query = select(DocumentRow.id).join(newest, newest.c.document_id == DocumentRow.id)
        query = query.where(DocumentRow.superseded_by.is_(None))
        if doc.patient_mrn is not None:
            query = query.where(
                or_(DocumentRow.patient_mrn == doc.patient_mrn, DocumentRow.patient_mrn.is_(None))
            )
        candidates.update(session.execute(query.order_by(DocumentRow.id.desc()).limit(CANDIDATES)).scalars())
    if not candidates:
        return None
    rows = session.execute(
        select(DocSignatureRow, DocumentRow.patient_mrn, DocumentRow.superseded_by)
        .join(DocumentRow, DocumentRow.id == DocSignatureRow.document_id)
        .where(DocSignatureRow.document_id.in_(sorted(candidates)))
    ).all()
    best: Duplicate | None = None
    for other, mrn, superseded_by in rows:
        if superseded_by is not None:
            continue
        if doc.patient_mrn is not None and mrn is not None and mrn != doc.patient_mrn:
            continue  # another patient's document: never this one's rescan
        words = text_similarity(sig.minhash, np.frombuffer(other.minhash, dtype=np.uint32))
        grams = number_similarity(sig.numbers, other.numbers)
        runs = run_similarity(sig.numbers, other.numbers)
        similar = min(words, max(grams, runs))
        if (
            words >= TEXT_THRESHOLD
            and (grams >= NUMBER_THRESHOLD or runs >= RUN_THRESHOLD)
            and (best is None or similar > best.similarity)
        ):
            best = Duplicate(other.document_id, round(similar, 3))
    return best


def index_signature(session: Session, doc_id: int, sig: Signature) -> None:
    """Store the document's signature and its LSH band keys."""
    session.add(DocSignatureRow(document_id=doc_id, minhash=sig.minhash.tobytes(), numbers=sig.numbers))
    if sig.minhash.size:
        session.add_all(DocBucketRow(key=key, document_id=doc_id) for key in _band_keys(sig.minhash))


def check_document(session: Session, doc: DocumentRow, page_texts: Sequence[str]) -> Duplicate | None:
    """Sign and index a newly archived document (flushed, so it has an id) and mark it when it
    is a near duplicate of an older one: ``duplicate_of``, its similarity, and review."""
    sig = signature_of(page_texts)
    found = find_duplicate(session, doc, sig)
    index_signature(session, doc.id, sig)
    if found is not None:
        doc.duplicate_of = found.document_id
        doc.duplicate_similarity = found.similarity
        doc.status = "review"
        doc.review_reason = f"possible duplicate of #{found.document_id} (similarity {found.similarity:.2f})"
        log.info("document %d: possible duplicate of %d (%.3f)", doc.id, found.document_id, found.similarity)
    return found


Keep = Literal["both", "this", "other"]


def resolve_duplicate(
    session: Session, row: DocumentRow, keep: Keep, clerk: Actor, *, now: dt.datetime
) -> dict[str, object]:
    """A clerk's decision on ``row``, marked a possible duplicate of an older document:
    ``both`` are different papers (the mark goes); keep ``this`` one (the older is superseded
    by it) or the ``other`` (this one is superseded). A superseded document is kept, hidden
    from the chart and from search by default. Every changed field is recorded in
    ``corrections``, the decision in the audit log, in the caller's transaction."""
    if row.duplicate_of is None:
        raise ArchiveError(f"document {row.id} is not marked as a possible duplicate")
    other = session.get(DocumentRow, row.duplicate_of)
    if other is None:
        raise NotFoundError(f"document {row.duplicate_of} (the original of {row.id}) not found")
    changes: list[tuple[DocumentRow, str, object]] = []
    if keep == "other":
        changes.append((row, "superseded_by", other.id))
    else:
        changes.append((row, "duplicate_of", None))
        if keep == "this":
            changes.append((other, "superseded_by", row.id))
    if row.patient_mrn is not None and keep != "other":
        changes += [(row, "status", "filed"), (row, "review_reason", None)]
    target: dict[str, object] = {
        "documents": sorted({row.id, other.id}),
        "keep": keep,
        "duplicate_of": other.id,
    }
    append_entry(session, clerk, "duplicate", target, [row.patient_mrn, other.patient_mrn])
    for doc, field, new in changes:
        old = getattr(doc, field)
        if old == new:
            continue
        setattr(doc, field, new)
        doc.updated_at = now
        session.add(
            CorrectionRow(
                document_id=doc.id,
                at=now,
                user=clerk.user,
                field=field,
                old=None if old is None else str(old),
                new=None if new is None else str(new),
            )
        )
    session.flush()
    log.info("document %d: duplicate of %d resolved, keep %s", row.id, other.id, keep)
    return target
