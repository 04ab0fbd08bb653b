"""Full-text search over the archive's pages: SQLite FTS5, or LIKE on other databases.

FTS5 (``pages_fts``, migration 0004) indexes each page's text and a ``scope`` column
holding one token for the document's patient and one for its type, so that the filters
can be part of the MATCH. Every hit matches every term and phrase (porter-stemmed, in
the page text) and the filters exactly. A search runs in one read transaction:

1. Each term's page count, counting at most ``COUNT_CAP`` (2,000) pages from the
   newest for a word, ``WINDOW`` (200) for a phrase: exact below that cap; at the cap,
   estimated from how densely the term occurs among the newest pages (the cap's
   matches over the page-id range they span).
2. Every term a single word on fewer than COUNT_CAP pages (a selective query): all
   matching pages are ranked by FTS5's ``bm25()``, filters applied by join (at most
   COUNT_CAP rows to look at).
3. Otherwise (a common word, or a phrase): only the newest ``max(WINDOW, limit)`` (200)
   matching pages, filters included, are ranked; older matches are neither ranked nor
   returned. FTS5 walks the index from the newest entry and stops there, so a word on
   nearly every page costs no more than a rarer one. They are scored with the same BM25
   as ``bm25()`` (k1 = 1.2, b = 0.75, page length in tokens over all columns, IDF from
   step 1's counts, floored at 1e-6), computed here with term frequencies from
   ``highlight()`` marks (overlapping occurrences of one phrase count once).
   ``bm25()`` itself is not used there: before scoring the first row it counts every
   page holding each term, O(pages): about 0.1 s for a word on each of a million pages,
   and for a phrase a pass over every page holding its words. For the same reason a
   phrase is counted only up to WINDOW, and a lone phrase's count comes from its
   candidates.
4. Hits: the best ``limit`` (ties: lower page id, i.e. older, first), with ``snippet()``
   and their documents and sources. Pages of superseded documents (a clerk kept another
   scan of the same paper, chartclerk.store.dedupe) are left out.
5. An identifier-like term (chartclerk.store.idents) found on fewer than ``limit`` pages
   is also looked for in the ``idents`` column (migration 0009): folded for OCR
   look-alikes, then, when nothing at all was found, with one character dropped or
   doubled, then changed or inserted (see :func:`search_fts`). Those hits rank below
   the exact ones; their snippets mark the code as it was read.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from chartclerk.store.idents import (
    EDIT_MIN,
    ID_MAX,
    ID_MIN,
    collapse,
    collapsed_token,
    deletions,
    fold,
    folded_token,
    identifier_spans,
    insertions,
    is_identifier,
    read_as_code,
    substitutions,
)
from chartclerk.store.models import SearchHit
from chartclerk.store.roster import normalize_mrn
from chartclerk.store.tables import FTS_TABLE, DocumentRow, PageRow, PatientRow, SourceRow

__all__ = [
    "COUNT_CAP",
    "CodePages",
    "WINDOW",
    "fts_expression",
    "fts_terms",
    "scope_token",
    "search_fts",
    "search_like",
    "with_lookalikes",
]

log = logging.getLogger(__name__)

WINDOW = 200  # matching pages ranked when a term is common, newest first
COUNT_CAP = 2000  # pages counted per word for its IDF (phrases: WINDOW); beyond, estimated
K1, B = 1.2, 0.75  # FTS5's bm25() constants
_MIN_IDF = 1e-6  # bm25()'s floor for terms on more than half the pages

# Match markers for highlight() and snippet(): control characters that OCR text does not contain.
_OPEN, _CLOSE = "\x02", "\x03"
_ELLIPSIS = "…"
_SNIPPET_TOKENS = 12
_PHRASE = re.compile(r'"([^"]*)"?|([^\s"]+)')  # a "quoted phrase" (closing quote optional) or a bare word
_WORD = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps: letters and digits


def fts_terms(query: str) -> list[list[str]]:
    """The user's query as terms, each a list of words (a phrase when longer than one word).

    Double-quoted text is a phrase; a bare word joined by punctuation ("a1c-test",
    "01/02/1960") is a phrase of its parts. FTS operators and punctuation are just text."""
    terms: list[list[str]] = []
    for match in _PHRASE.finditer(query):
        chunk = match.group(1) if match.group(1) is not None else match.group(2)
        words = _WORD.findall(chunk)
        if words:
            terms.append(words)
    return terms


def fts_expression(query: str) -> str | None:
    """A safe FTS5 MATCH expression (every term double-quoted, ANDed); None when nothing is left."""
    terms = fts_terms(query)
    return _match_expression(terms) if terms else None


def _match_expression(terms: Sequence[Sequence[str]]) -> str:
    # Words hold letters and digits only, so a double-quoted word or phrase is always a plain string.
    return " AND ".join('"' + " ".join(words) + '"' for words in terms)


def scope_token(kind: Literal["patient", "type"], value: str) -> str:
    """The scope token of a patient MRN or a document type, as migration 0004's SQL makes it:
    ``p``/``t``, the value's UTF-8 bytes in hex, ``0`` (one token, never stemmed)."""
    return ("p" if kind == "patient" else "t") + value.encode().hex() + "0"


# -- FTS5 -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _IndexStats:
    pages: int  # rows in the index
    avg_length: float  # mean tokens per page (all columns)
    first_id: int
    last_id: int


def search_fts(
    session: Session, terms: list[list[str]], *, patient: str | None, doc_type: str | None, limit: int
) -> list[SearchHit]:
    """The best ``limit`` pages matching every term and filter (see the module doc): exact
    matches first, then, when a term is an identifier and fewer than ``limit`` pages matched,
    pages where it was read with look-alikes. Only when neither found a page, identifiers of
    EDIT_MIN or more characters are looked for with one character dropped or doubled, then
    with one character changed or inserted (a neighbouring accession number is never
    offered while the code itself is on file)."""
    hits = _search_exact(session, terms, patient=patient, doc_type=doc_type, limit=limit)
    return with_lookalikes(session, terms, hits, patient=patient, doc_type=doc_type, limit=limit)


class CodePages(Protocol):
    """A backend's finder of pages whose idents hold one of each code term's tokens and whose
    text holds every other term: rows (page id, document id, page number, text, type, MRN,
    source), newest first."""

    def __call__(
        self,
        session: Session,
        terms: list[list[str]],
        alternatives: dict[int, list[str]],
        mrns: list[str] | None,
        doc_type: str | None,
        limit: int,
    ) -> list[Any]: ...


def with_lookalikes(
    session: Session,
    terms: list[list[str]],
    hits: list[SearchHit],
    *,
    patient: str | None,
    doc_type: str | None,
    limit: int,
    code_pages: CodePages | None = None,
) -> list[SearchHit]:
    """``hits`` (the exact matches), then, when a term is an identifier and fewer than
    ``limit`` pages matched, pages where it was read with look-alikes, ranked below them; only
    when neither found a page, identifiers of EDIT_MIN or more characters with one character
    dropped or doubled, then changed or inserted. The same tiers on every backend: only
    ``code_pages`` (how the idents column is searched) differs."""
    codes = {i: fold("".join(t)) for i, t in enumerate(terms) if _is_code(t)}
    if not codes or len(hits) >= limit:
        return hits
    mrns = list(session.scalars(_patient_mrns(patient))) if patient is not None else None
    if mrns == []:
        return hits
    find = code_pages or _code_pages
    floor = min((h.score for h in hits), default=1.0)
    for tier in (1, 2, 3):
        alternatives = {i: _code_tokens(q, tier) for i, q in codes.items()}
        if any(not tokens for tokens in alternatives.values()):
            continue  # a code too short for one edit more
        seen = {(h.document_id, h.page) for h in hits}
        found = find(session, terms, alternatives, mrns, doc_type, limit + len(seen))
        fresh = [row for row in found if (row[1], row[2]) not in seen][: limit - len(hits)]
        for rank, row in enumerate(fresh):
            score = floor * 0.5**tier / (1 + 0.01 * rank)
            hits.append(_code_hit(row, score, terms, codes, tier))
        if hits:
            break  # one edit more only when the code was found neither as typed nor through look-alikes
    return hits


def _is_code(term: Sequence[str]) -> bool:
    """An identifier-like term: one word, or a few joined by hyphens ("ACC-20931")."""
    return len(term) <= 4 and is_identifier("".join(term))


def _code_tokens(folded: str, tier: int) -> list[str]:
    """The idents tokens that match a folded code: itself (tier 1); one character dropped or
    doubled (tier 2); one character changed or inserted (tier 3). Tiers 2 and 3 are for codes
    of EDIT_MIN characters or more."""
    if tier == 1:
        return [folded_token(folded)]
    if len(folded) < EDIT_MIN:
        return []
    if tier == 2:
        return [collapsed_token(folded), *(folded_token(d) for d in deletions(folded) if len(d) >= ID_MIN)]
    return [folded_token(v) for v in (*substitutions(folded), *insertions(folded)) if len(v) <= ID_MAX]


def _code_match(token: str, folded: str, tier: int) -> bool:
    """Whether ``token`` as read is the code ``folded`` at this tier (for snippets)."""
    if not read_as_code(token):
        return False
    mine = fold(token)
    if mine == folded:
        return True
    if tier >= 2 and (collapse(mine) == collapse(folded) or mine in deletions(folded)):
        return True
    return tier == 3 and _one_change_or_insert(mine, folded)


def _one_change_or_insert(mine: str, folded: str) -> bool:
    if len(mine) == len(folded):
        return sum(a != b for a, b in zip(mine, folded, strict=True)) == 1
    return len(mine) == len(folded) + 1 and folded in deletions(mine)


def _code_pages(
    session: Session,
    terms: list[list[str]],
    alternatives: dict[int, list[str]],
    mrns: list[str] | None,
    doc_type: str | None,
    limit: int,
) -> list[Any]:
    """Pages where every code term matches one of its idents tokens and every other term its
    text, newest first: (page id, document id, page number, text, type, MRN, source)."""
    parts = []
    for i, term in enumerate(terms):
        if i in alternatives:
            parts.append("idents : (" + " OR ".join(f'"{t}"' for t in alternatives[i]) + ")")
        else:
            parts.append(_text_phrase(term))
    filters = " AND d.superseded_by IS NULL"
    params: dict[str, Any] = {"query": " AND ".join(parts), "limit": limit}
    if mrns is not None:
        filters += " AND d.patient_mrn IN (SELECT value FROM json_each(:mrns))"
        params["mrns"] = json.dumps(mrns)
    if doc_type is not None:
        filters += " AND d.doc_type = :doc_type"
        params["doc_type"] = doc_type
    return list(
        session.execute(
            text(
                "SELECT p.id, p.document_id, p.number, p.text, d.doc_type, d.patient_mrn, s.name"
                f" FROM {FTS_TABLE} JOIN pages AS p ON p.id = {FTS_TABLE}.rowid"
                " JOIN documents AS d ON d.id = p.document_id"
                " JOIN sources AS s ON s.sha256 = d.source_sha256"
                f" WHERE {FTS_TABLE} MATCH :query{filters} ORDER BY p.id DESC LIMIT :limit"
            ),
            params,
        ).all()
    )


def _code_hit(row: Any, score: float, terms: list[list[str]], codes: dict[int, str], tier: int) -> SearchHit:
    """A hit found through look-alikes; its snippet shows the code as it was read."""
    return SearchHit(
        document_id=row[1],
        page=row[2],
        snippet=_code_snippet(row[3] or "", terms, codes, tier),
        score=score,
        doc_type=row[4],
        patient_mrn=row[5],
        source=row[6],
    )


def _code_snippet(
    page_text: str, terms: list[list[str]], codes: dict[int, str], tier: int, width: int = 60
) -> str:
    flat = " ".join(page_text.split()).replace("[", "(").replace("]", ")")
    spans: list[tuple[int, int]] = []
    for start, stop, token in identifier_spans(flat):
        if any(_code_match(token, q, tier) for q in codes.values()):
            spans.append((start, stop))
    words = {_fold(w) for i, t in enumerate(terms) if i not in codes for w in t}
    for match in _WORD.finditer(flat):
        if _fold(match.group(0)) in words:
            spans.append(match.span())
    if not spans:
        return flat[: width * 2]
    spans.sort()
    begin = max(0, spans[0][0] - width)
    end = min(len(flat), spans[0][1] + width)
    out, at = [], begin
    for start, stop in spans:
        if start < at or stop > end:
            continue
        out += [flat[at:start], "[", flat[start:stop], "]"]
        at = stop
    out.append(flat[at:end])
    return (_ELLIPSIS if begin else "") + "".join(out) + (_ELLIPSIS if end < len(flat) else "")


def _search_exact(
    session: Session, terms: list[list[str]], *, patient: str | None, doc_type: str | None, limit: int
) -> list[SearchHit]:
    mrns: list[str] | None = None
    if patient is not None:
        mrns = list(session.scalars(_patient_mrns(patient)))
        if not mrns:
            return []  # no roster patient has that MRN
    stats = _index_stats(session)
    query = _match_query(terms, mrns, doc_type)
    window = max(limit, WINDOW)
    if len(terms) == 1 and len(terms[0]) > 1 and query == _text_phrase(terms[0]):
        # One phrase, no filter: its newest matches are the candidates and give its count.
        rows = _candidates(session, query, window)
        oldest = rows[-1][0] if rows else stats.last_id
        counted = [_page_count(len(rows), oldest, stats, cap=window)]
    else:
        counted = [_pages_with(session, t, stats) for t in terms]
        if all(len(t) == 1 and exact for t, (_, exact) in zip(terms, counted, strict=True)):
            return _ranked_by_bm25(session, terms, mrns, doc_type, limit)
        rows = _candidates(session, query, window)
    idf = [_idf(pages, stats.pages) for pages, _ in counted]
    folded = [[_fold(w) for w in t] for t in terms]
    scored = sorted(
        (
            -_bm25(_phrase_counts(marked or "", folded), idf, sum(_varints(size or b"")), stats.avg_length),
            page_id,
        )
        for page_id, marked, size in rows
    )[:limit]
    return _hits(session, query, [(page_id, -neg) for neg, page_id in scored])


def _match_query(terms: list[list[str]], mrns: list[str] | None, doc_type: str | None) -> str:
    """Every term in the page text, the filters as scope tokens."""
    query = " AND ".join(_text_phrase(t) for t in terms)
    if mrns is not None:
        query += " AND scope : (" + " OR ".join(f'"{scope_token("patient", m)}"' for m in mrns) + ")"
    if doc_type is not None:
        query += f' AND scope : "{scope_token("type", doc_type)}"'
    return query


def _text_phrase(term: Sequence[str]) -> str:
    # Words hold letters and digits only, so a double-quoted word or phrase is always a plain string.
    return f'text : "{" ".join(term)}"'


def _ranked_by_bm25(
    session: Session, terms: list[list[str]], mrns: list[str] | None, doc_type: str | None, limit: int
) -> list[SearchHit]:
    """Every term is on fewer than COUNT_CAP pages: FTS5's bm25() over all matches (filters
    by join: bm25() would count every page of a type to weigh a type token)."""
    filters = " AND d.superseded_by IS NULL"
    params: dict[str, Any] = {"query": " AND ".join(_text_phrase(t) for t in terms), "limit": limit}
    if mrns is not None:
        filters += " AND d.patient_mrn IN (SELECT value FROM json_each(:mrns))"
        params["mrns"] = json.dumps(mrns)
    if doc_type is not None:
        filters += " AND d.doc_type = :doc_type"
        params["doc_type"] = doc_type
    rows = session.execute(
        text(
            f"SELECT p.id, -bm25({FTS_TABLE}) AS score FROM {FTS_TABLE}"
            f" JOIN pages AS p ON p.id = {FTS_TABLE}.rowid"
            " JOIN documents AS d ON d.id = p.document_id"
            f" WHERE {FTS_TABLE} MATCH :query{filters}"
            " ORDER BY score DESC, p.id LIMIT :limit"
        ),
        params,
    ).all()
    return _hits(session, params["query"], [(row[0], float(row[1])) for row in rows])


def _candidates(session: Session, query: str, window: int) -> list[Any]:
    """The newest ``window`` matches: (page id, text with highlight() marks, %_docsize sizes)."""
    return list(
        session.execute(
            text(
                f"SELECT rowid, highlight({FTS_TABLE}, 0, :open, :close),"
                f" (SELECT sz FROM {FTS_TABLE}_docsize WHERE id = {FTS_TABLE}.rowid)"
                f" FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :query ORDER BY rowid DESC LIMIT :window"
            ),
            {"query": query, "open": _OPEN, "close": _CLOSE, "window": window},
        ).all()
    )


def _index_stats(session: Session) -> _IndexStats:
    # FTS5's averages record (rowid 1 of %_data): varints, the row count then the tokens per
    # column. Lengths count every column, as bm25() counts them.
    record = session.execute(text(f"SELECT block FROM {FTS_TABLE}_data WHERE id = 1")).scalar()
    values = _varints(record or b"")
    pages = values[0] if values else 0
    tokens = sum(values[1:])
    # Two subqueries: SQLite answers each of min() and max() from one end of the b-tree.
    first, last = session.execute(
        select(select(func.min(PageRow.id)).scalar_subquery(), select(func.max(PageRow.id)).scalar_subquery())
    ).one()
    return _IndexStats(
        pages=pages,
        avg_length=tokens / pages if pages and tokens else 1.0,
        first_id=first or 0,
        last_id=last or 0,
    )


def _pages_with(session: Session, term: Sequence[str], stats: _IndexStats) -> tuple[float, bool]:
    """How many pages hold ``term`` and whether that is exact: a word's pages are counted up
    to COUNT_CAP from the newest, a phrase's up to WINDOW (finding a phrase reads every page
    holding its words, and a rare phrase's words may be on most pages); beyond, estimated."""
    cap = COUNT_CAP if len(term) == 1 else WINDOW
    count, oldest = session.execute(
        text(
            f"SELECT count(*), min(rowid) FROM (SELECT rowid FROM {FTS_TABLE}"
            f" WHERE {FTS_TABLE} MATCH :phrase ORDER BY rowid DESC LIMIT :cap)"
        ),
        {"phrase": _text_phrase(term), "cap": cap},
    ).one()
    return _page_count(count, oldest, stats, cap=cap)


def _page_count(count: int, oldest: int | None, stats: _IndexStats, *, cap: int) -> tuple[float, bool]:
    """``count`` newest matches down to page id ``oldest``: the count if under ``cap`` (exact),
    else an estimate from their density over the page ids they span."""
    if count < cap or oldest is None:
        return float(count), True
    span = stats.last_id - stats.first_id + 1
    newer = stats.last_id - oldest + 1
    return min(float(stats.pages), count * span / max(newer, 1)), False


def _idf(pages_with: float, pages: int) -> float:
    idf = math.log((pages - pages_with + 0.5) / (pages_with + 0.5)) if pages else 0.0
    return idf if idf > 0 else _MIN_IDF


def _bm25(counts: Sequence[int], idf: Sequence[float], length: int, avg_length: float) -> float:
    norm = K1 * (1 - B + B * length / avg_length)
    return sum(w * tf * (K1 + 1) / (tf + norm) for tf, w in zip(counts, idf, strict=True) if tf)


def _phrase_counts(marked: str, terms: Sequence[Sequence[str]]) -> list[int]:
    """Occurrences of each term (words folded by :func:`_fold`) in a page's highlighted text;
    overlapping occurrences count once.

    highlight() marks every term alike; a marked stretch is credited to the term whose words
    it matches best (same number of words, longest common prefixes: the stemmer only changes
    word endings)."""
    counts = [0] * len(terms)
    if len(terms) == 1:
        counts[0] = marked.count(_OPEN)
        return counts
    for chunk in marked.split(_OPEN)[1:]:
        found = [_fold(w) for w in _WORD.findall(chunk.split(_CLOSE, 1)[0])]
        best = max(range(len(terms)), key=lambda i: _likeness(found, terms[i]))
        counts[best] += 1
    return counts


def _likeness(found: Sequence[str], term: Sequence[str]) -> tuple[bool, int]:
    shared = sum(len(_common_prefix(a, b)) for a, b in zip(found, term, strict=False))
    return (len(found) == len(term), shared)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def _fold(word: str) -> str:
    """Case and diacritics removed, as the unicode61 tokenizer does."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (big-endian, 7 bits a byte, a 9th byte of 8), as FTS5 stores counts."""
    values: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80 or i >= len(blob):
                break
        values.append(value)
    return values


def _hits(session: Session, query: str, ranked: list[tuple[int, float]]) -> list[SearchHit]:
    """SearchHits in ``ranked`` order: page ids looked up one by one (CROSS JOIN keeps that order
    of the loops: FTS5 then seeks each id instead of walking every match)."""
    rows = session.execute(
        text(
            "SELECT p.id, p.document_id, p.number,"
            f" snippet({FTS_TABLE}, 0, :open, :close, :ellipsis, :tokens), d.doc_type, d.patient_mrn, s.name"
            f" FROM json_each(:ids) AS j CROSS JOIN {FTS_TABLE}"
            f" JOIN pages AS p ON p.id = {FTS_TABLE}.rowid"
            " JOIN documents AS d ON d.id = p.document_id"
            " JOIN sources AS s ON s.sha256 = d.source_sha256"
            f" WHERE {FTS_TABLE}.rowid = j.value AND {FTS_TABLE} MATCH :query AND d.superseded_by IS NULL"
        ),
        {
            "ids": json.dumps([page_id for page_id, _ in ranked]),
            "query": query,
            "open": _OPEN,
            "close": _CLOSE,
            "ellipsis": _ELLIPSIS,
            "tokens": _SNIPPET_TOKENS,
        },
    ).all()
    by_id = {row[0]: row for row in rows}
    hits: list[SearchHit] = []
    for page_id, score in ranked:
        row = by_id.get(page_id)
        if row is None:
            continue
        hits.append(
            SearchHit(
                document_id=row[1],
                page=row[2],
                snippet=_clean_snippet(row[3]),
                score=score,
                doc_type=row[4],
                patient_mrn=row[5],
                source=row[6],
            )
        )
    return hits


# -- LIKE fallback --------------------------------------------------------------------------------


def search_like(
    session: Session, terms: list[list[str]], *, patient: str | None, doc_type: str | None, limit: int
) -> list[SearchHit]:
    """Fallback for databases without FTS5: every phrase must occur (case-insensitive), scored by
    the number of occurrences, among the first pages (by document) that match."""
    phrases = [" ".join(words).lower() for words in terms]
    query = (
        select(
            PageRow.document_id,
            PageRow.number,
            PageRow.text,
            DocumentRow.doc_type,
            DocumentRow.patient_mrn,
            SourceRow.name,
        )
        .join(DocumentRow, DocumentRow.id == PageRow.document_id)
        .join(SourceRow, SourceRow.sha256 == DocumentRow.source_sha256)
        .where(DocumentRow.superseded_by.is_(None))
        .order_by(PageRow.document_id, PageRow.number)
    )
    for phrase in phrases:
        query = query.where(func.lower(PageRow.text).like(f"%{_like_escape(phrase)}%", escape="\\"))
    if patient is not None:
        query = query.where(DocumentRow.patient_mrn.in_(_patient_mrns(patient)))
    if doc_type is not None:
        query = query.where(DocumentRow.doc_type == doc_type)
    rows = session.execute(query.limit(max(limit * 20, 500))).all()
    hits = [
        SearchHit(
            document_id=row[0],
            page=row[1],
            snippet=_like_snippet(row[2], phrases),
            score=float(sum(row[2].lower().count(p) for p in phrases)),
            doc_type=row[3],
            patient_mrn=row[4],
            source=row[5],
        )
        for row in rows
    ]
    hits.sort(key=lambda h: -h.score)
    return hits[:limit]


# -- helpers --------------------------------------------------------------------------------------


def _patient_mrns(patient: str) -> Any:
    """Roster MRNs equal to ``patient`` as given or without leading zeros (a select)."""
    return select(PatientRow.mrn).where(
        (PatientRow.mrn == patient.strip()) | (PatientRow.mrn_norm == normalize_mrn(patient))
    )


def _clean_snippet(raw: str | None) -> str:
    """One line; literal brackets in the text become parentheses so [ ] mark matches only."""
    snippet = " ".join((raw or "").split())
    snippet = snippet.replace("[", "(").replace("]", ")")
    return snippet.replace(_OPEN, "[").replace(_CLOSE, "]")


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_snippet(page_text: str, phrases: Sequence[str], width: int = 60) -> str:
    flat = " ".join(page_text.split()).replace("[", "(").replace("]", ")")
    lower = flat.lower()
    starts = [i for i in (lower.find(p) for p in phrases) if i >= 0]
    if not starts:
        return flat[: width * 2]
    begin = max(0, min(starts) - width)
    end = min(len(flat), min(starts) + width)
    window = flat[begin:end]
    for phrase in sorted(set(phrases), key=len, reverse=True):
        window = re.sub(
            re.escape(phrase), lambda m: f"{_OPEN}{m.group(0)}{_CLOSE}", window, flags=re.IGNORECASE
        )
    window = window.replace(_OPEN, "[").replace(_CLOSE, "]")
    return (_ELLIPSIS if begin else "") + window + (_ELLIPSIS if end < len(flat) else "")
