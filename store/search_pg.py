"""Full-text search over the archive's pages on PostgreSQL: a tsvector column with a GIN index.

Migration 0011 gives every page a generated column ``pages.tsv`` (the ``chartclerk`` text
search configuration: English Snowball stemming without stop words, accents removed, as
SQLite's ``porter unicode61``) and a GIN index on it. The user's terms (words and phrases,
as :func:`chartclerk.store.search.fts_terms` reads them) become one quoted phrase each for
``websearch_to_tsquery``, ANDed, so no operator the user types is interpreted. The patient
and type filters are a join to the document (its indexed ``patient_mrn`` and ``doc_type``).
A search runs in one read transaction, with the same bounds as the FTS5 path:

1. Single words only: the matching pages are counted up to ``COUNT_CAP`` (2,000).
2. Fewer (a selective query): every match is ranked by ``ts_rank`` (length-normalized).
3. Otherwise (a common word, or a phrase as in FTS5): only the newest
   ``max(WINDOW, limit)`` (200) matching pages (highest page ids, filters included) are
   ranked; older matches are neither ranked nor returned, so a word on nearly every page
   costs no more than a rarer one.
4. Hits: the best ``limit`` (ties: older page first); ``ts_headline`` (the costly part: it
   parses the page text again) only on those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from chartclerk.store import search as fts5  # the bounds (COUNT_CAP, WINDOW) are shared
from chartclerk.store.models import SearchHit
from chartclerk.store.roster import normalize_mrn
from chartclerk.store.tables import PatientRow

__all__ = ["TS_CONFIG", "search_pg", "websearch_text"]

TS_CONFIG = "chartclerk"  # made by migration 0011
_HEADLINE = 'StartSel="[", StopSel="]", MaxWords=24, MinWords=10, ShortWord=0, MaxFragments=1'
_QUERY = f"websearch_to_tsquery('{TS_CONFIG}', :q)"


def websearch_text(terms: Sequence[Sequence[str]]) -> str:
    """The terms as websearch_to_tsquery input: each a double-quoted phrase (words hold letters
    and digits only, so nothing in them is an operator), ANDed."""
    return " ".join('"' + " ".join(words) + '"' for words in terms)


def search_pg(
    session: Session, terms: list[list[str]], *, patient: str | None, doc_type: str | None, limit: int
) -> list[SearchHit]:
    """The best ``limit`` pages matching every term and filter (see the module doc)."""
    params: dict[str, Any] = {"q": websearch_text(terms), "cap": fts5.COUNT_CAP, "limit": limit}
    scope = ""
    if patient is not None:
        mrns = list(session.scalars(_patient_mrns(patient)))
        if not mrns:
            return []  # no roster patient has that MRN
        scope += " AND d.patient_mrn = ANY(:mrns)"
        params["mrns"] = mrns
    if doc_type is not None:
        scope += " AND d.doc_type = :doc_type"
        params["doc_type"] = doc_type
    join = " JOIN documents AS d ON d.id = p.document_id" if scope else ""
    matches = f"FROM pages AS p{join} WHERE p.tsv @@ {_QUERY}{scope}"
    window = max(fts5.WINDOW, limit)
    if all(len(t) == 1 for t in terms):  # a phrase is always ranked in the window, as in FTS5
        count = session.execute(
            text(f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT :cap) AS m"), params
        ).scalar()
        if (count or 0) < fts5.COUNT_CAP:
            window = fts5.COUNT_CAP
    params["window"] = window
    ranked = session.execute(
        text(
            f"SELECT c.id, ts_rank(c.tsv, {_QUERY}, 1) AS score"
            f" FROM (SELECT p.id, p.tsv {matches} ORDER BY p.id DESC LIMIT :window) AS c"
            " ORDER BY score DESC, c.id LIMIT :limit"
        ),
        params,
    ).all()
    phrases = [[w.lower() for w in t] for t in terms if len(t) > 1]
    return _hits(session, params["q"], [(int(row[0]), float(row[1])) for row in ranked], phrases)


def _hits(
    session: Session, q: str, ranked: list[tuple[int, float]], phrases: list[list[str]]
) -> list[SearchHit]:
    if not ranked:
        return []
    rows = session.execute(
        text(
            "SELECT p.id, p.document_id, p.number,"
            f" ts_headline('{TS_CONFIG}', translate(p.text, '[]', '()'), {_QUERY}, :options),"
            " d.doc_type, d.patient_mrn, s.name"
            " FROM pages AS p JOIN documents AS d ON d.id = p.document_id"
            " JOIN sources AS s ON s.sha256 = d.source_sha256 WHERE p.id = ANY(:ids)"
        ),
        {"q": q, "options": _HEADLINE, "ids": [page_id for page_id, _ in ranked]},
    ).all()
    by_id = {row[0]: row for row in rows}
    return [
        SearchHit(
            document_id=row[1],
            page=row[2],
            snippet=_clean_snippet(row[3], phrases),
            score=score,
            doc_type=row[4],
            patient_mrn=row[5],
            source=row[6],
        )
        for page_id, score in ranked
        if (row := by_id.get(page_id)) is not None
    ]


def _clean_snippet(raw: str | None, phrases: list[list[str]]) -> str:
    """One line, matches in [ ]; ts_headline marks the words of a phrase one by one: a run of
    marked words that reads as a phrase of the query becomes one marked stretch, as in FTS5."""
    snippet = " ".join((raw or "").split())
    for words in sorted(phrases, key=len, reverse=True):
        pattern = r"\s+".join(rf"\[({re.escape(w[:4])}[^\]]*)\]" for w in words)
        snippet = re.sub(pattern, lambda m: "[" + " ".join(m.groups()) + "]", snippet, flags=re.IGNORECASE)
    return snippet


def _patient_mrns(patient: str) -> Any:
    """Roster MRNs equal to ``patient`` as given or without leading zeros (a select)."""
    return select(PatientRow.mrn).where(
        (PatientRow.mrn == patient.strip()) | (PatientRow.mrn_norm == normalize_mrn(patient))
    )
