"""Full-text search over the archive's pages on PostgreSQL: a tsvector column and a GIN key index.

Migration 0011 gives every page a generated column ``pages.tsv`` (the ``chartclerk`` text
search configuration: English Snowball stemming without stop words, accents removed, as
SQLite's ``porter unicode61``). Migration 0012 indexes, in one GIN index on
``chartclerk_keys(tsv, scope)``, the page's lexemes, a key per pair of adjacent lexemes and
the document's patient and type (``pages.scope``, kept by triggers), as FTS5's index holds
the scope. The user's terms (words and phrases, as :func:`chartclerk.store.search.fts_terms`
reads them) become one quoted phrase each for ``websearch_to_tsquery``, ANDed, so no
operator the user types is interpreted: that exact query decides every hit. The key query
(``chartclerk_key_query``: every word's lexeme, every adjacent pair's key, the scope; no
phrase operator) finds the candidates: a two-word phrase is one posting list instead of
every page holding both words, each re-read for word positions, and a type or patient
filter is part of the same probe instead of a join per page. A search runs in one read
transaction, with the same bounds as the FTS5 path:

1. The matching pages are estimated by the planner (ANALYZE's statistics of the key index's
   lexemes; an exact count would pass over every page holding a common word).
2. Fewer than ``COUNT_CAP`` (2,000; a selective query) and no phrase: every match, found
   with the key index, is ranked by ``ts_rank`` (length-normalized).
3. Otherwise (a common word, or a phrase as in FTS5): only the newest ``max(WINDOW, limit)``
   (200) matching pages (highest page ids, filters included) are ranked; older matches are
   neither ranked nor returned. They are looked for in page-id ranges from the newest, either
   by walking the primary key and testing each page (when matches are so many that few pages
   are read) or by a bitmap AND of the key index and the range (otherwise), whichever reads
   less by the estimate (``_WALK_COST``).
4. Hits: the best ``limit`` (ties: older page first); ``ts_headline`` (the costly part: it
   parses the page text again) only on those. Superseded documents are left out, as in FTS5.
5. An identifier-like term found on fewer than ``limit`` pages is also looked for through OCR
   look-alikes, in the same tiers as the FTS5 path (chartclerk.store.search.with_lookalikes),
   in the ``idents`` column (migration 0009) through a GIN index on its ``simple`` tsvector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
_RANGES = 2  # page-id ranges searched from the newest before the rest is searched at once
# A page read by the primary key walk costs about as much as this many postings decoded from
# the key index (2 us against 0.11 us, measured at 100,000 pages).
_WALK_COST = 18
# The widest page-id range whose primary-key bitmap is ANDed with the key index's: a wider one
# costs more to build than the matches it leaves out (50 ms for 700,000 ids).
_AND_SPAN = 100_000
_QUERY = f"websearch_to_tsquery('{TS_CONFIG}', :q)"
# For the search's transaction: plans made for each query's own words (the planner's estimates
# choose the plan); no JIT compilation nor parallel workers, whose start-up costs more than
# these queries (the key index's declared cost would otherwise ask for both); and:
_SEARCH_SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
    # Bitmaps kept exact (one bit per page row, not per heap block): a lossy bitmap makes
    # PostgreSQL recompute the key index's expression (0.4 ms a page) on every row it reads.
    "work_mem": "32MB",
}
_KEYS = "chartclerk_keys(p.tsv, p.scope) @@ CAST(:keys AS tsquery)"  # migration 0012's index


def websearch_text(terms: Sequence[Sequence[str]]) -> str:
    """The terms as websearch_to_tsquery input: each a double-quoted phrase (words hold letters
    and digits only, so nothing in them is an operator), ANDed."""
    return " ".join('"' + " ".join(words) + '"' for words in terms)


def search_pg(
    session: Session, terms: list[list[str]], *, patient: str | None, doc_type: str | None, limit: int
) -> list[SearchHit]:
    """The best ``limit`` pages matching every term and filter (see the module doc)."""
    params: dict[str, Any] = {"q": websearch_text(terms)}
    mrns: list[str] | None = None
    if patient is not None:
        mrns = list(session.scalars(_patient_mrns(patient)))
        if not mrns:
            return []  # no roster patient has that MRN
    _set_local(session, _SEARCH_SETTINGS)
    singles = [" ".join(t) for t in terms if len(t) == 1]
    phrases_text = [" ".join(t) for t in terms if len(t) > 1]
    keys, scope, single_keys, phrase_keys = session.execute(
        text(
            "SELECT chartclerk_key_query(:terms, :mrns, :t), chartclerk_key_query(NULL, :mrns, :t),"
            " chartclerk_key_query(:singles, :mrns, :t), chartclerk_key_query(:phrases, NULL, NULL)"
        ),
        {"terms": [" ".join(t) for t in terms], "singles": singles, "phrases": phrases_text}
        | {"mrns": mrns, "t": doc_type},
    ).one()
    # What the planner estimates: a phrase by its pairs' keys alone (they imply its words; the
    # planner would multiply their frequencies as if independent, far too few pages).
    pairs = [k for k in phrase_keys.split(" & ") if k.startswith("'~")] if phrase_keys else []
    parts = " & ".join(filter(None, [single_keys, *(pairs if pairs else [phrase_keys])]))
    estimated = " & ".join(dict.fromkeys(parts.split(" & "))) if parts else ""  # a word repeated counts once
    params.update(keys=keys, scope=scope)
    estimate_params = {**params, "keys": estimated}
    # The exact condition (word positions, scope), tested on each page read ...
    exact = f"p.tsv @@ {_QUERY}" + (" AND p.scope @@ CAST(:scope AS tsquery)" if scope else "")
    # ... and with the key index narrowing the pages to read first.
    indexed = f"{_KEYS} AND {exact}" if keys else exact
    window = max(fts5.WINDOW, limit)
    top = int(session.execute(text("SELECT max(id) FROM pages")).scalar() or 0)
    estimate = (
        _estimate(session, f"FROM pages AS p WHERE {_KEYS}", estimate_params) if estimated else float(top)
    )
    if any(len(t) > 1 for t in terms) or estimate >= fts5.COUNT_CAP:
        # a phrase, or a common word: the newest window only, as in FTS5
        candidates = _newest(session, exact, indexed, params, window, top, estimate)
    else:  # a selective query: every match (found with the key index)
        with _bitmap_only(session, on=bool(keys)):
            rows = session.execute(
                text(f"SELECT p.id, ts_rank(p.tsv, {_QUERY}, 1) FROM pages AS p WHERE {indexed}"), params
            ).all()
        candidates = [(int(r[0]), float(r[1])) for r in rows]
    ranked = sorted(candidates, key=lambda c: (-c[1], c[0]))[:limit]
    phrases = [[w.lower() for w in t] for t in terms if len(t) > 1]
    hits = _hits(session, params["q"], ranked, phrases)
    return fts5.with_lookalikes(
        session, terms, hits, patient=patient, doc_type=doc_type, limit=limit, code_pages=_code_pages
    )


def _code_pages(
    session: Session,
    terms: list[list[str]],
    alternatives: dict[int, list[str]],
    mrns: list[str] | None,
    doc_type: str | None,
    limit: int,
) -> list[Any]:
    """Pages whose idents hold one of each code term's look-alike tokens (GIN index on
    ``to_tsvector('simple', idents)``, migration 0011) and whose text holds every other term,
    newest first; superseded documents left out (the look-alike tiers of the FTS5 path)."""
    params: dict[str, Any] = {"limit": limit}
    where = ["d.superseded_by IS NULL"]
    for i, tokens in alternatives.items():
        # Tokens are f/c + lower-case letters and digits + 0: nothing in them is an operator.
        params[f"code{i}"] = " | ".join(tokens)
        where.append(f"to_tsvector('simple', p.idents) @@ to_tsquery('simple', :code{i})")
    others = [t for i, t in enumerate(terms) if i not in alternatives]
    if others:
        params["q"] = websearch_text(others)
        where.append(f"p.tsv @@ {_QUERY}")
    if mrns is not None:
        where.append("d.patient_mrn = ANY(:mrns)")
        params["mrns"] = mrns
    if doc_type is not None:
        where.append("d.doc_type = :doc_type")
        params["doc_type"] = doc_type
    return list(
        session.execute(
            text(
                "SELECT p.id, p.document_id, p.number, p.text, d.doc_type, d.patient_mrn, s.name"
                " FROM pages AS p JOIN documents AS d ON d.id = p.document_id"
                " JOIN sources AS s ON s.sha256 = d.source_sha256"
                f" WHERE {' AND '.join(where)} ORDER BY p.id DESC LIMIT :limit"
            ),
            params,
        ).all()
    )


def _estimate(session: Session, matches: str, params: dict[str, Any]) -> float:
    """The planner's estimate of the matching pages (from ANALYZE's statistics of the key
    index's lexemes): the price of an exact count is a pass over every page holding a common
    word."""
    plan = session.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 {matches}"), params).scalar()
    data: Any = json.loads(plan) if isinstance(plan, str) else plan
    return float(data[0]["Plan"]["Plan Rows"])


def _newest(
    session: Session,
    exact: str,
    indexed: str,
    params: dict[str, Any],
    count: int,
    top: int,
    estimate: float,
) -> list[tuple[int, float]]:
    """Up to ``count`` matches with their ts_rank, newest first, looked for in page-id ranges
    from the newest (``top``), each sized to hold about twice the matches still wanted at the
    estimated share of matching pages, the next four times larger, then the rest. When the
    matches are many (``_WALK_COST``), the primary key is walked and each page tested: a few
    thousand pages at most; a GIN bitmap would list every page holding a common word. Otherwise
    the key index's bitmap is intersected with the range's (a bitmap AND), so only the range's
    matching pages are read."""
    found: list[tuple[int, float]] = []
    share = min(1.0, max(estimate, 1.0) / max(top, 1))
    # Walking reads about count / share pages; the bitmap decodes every posting (estimate).
    walk = estimate * estimate >= _WALK_COST * count * top
    high, span = top, max(2 * count, int(2 * count / share))
    for attempt in range(_RANGES + 1):
        if high < 1 or len(found) >= count:
            break
        low = max(1, high - span + 1) if attempt < _RANGES else 1
        if walk and attempt < _RANGES:
            where, bitmap = f"p.id BETWEEN :low AND :high AND {exact}", False
        elif high - low < _AND_SPAN:  # the key index's bitmap ANDed with the range's
            where, bitmap = f"p.id BETWEEN :low AND :high AND {indexed}", True
        else:  # the key index alone, every older page at once; the range a filter tested first
            low = 1  # ("IS TRUE": not an index condition, and as cheap as the text test)
            where, bitmap = f"(p.id <= :high) IS TRUE AND {indexed}", True
        with _bitmap_only(session, on=bitmap):
            rows = session.execute(
                text(  # ranked once the newest are chosen
                    f"SELECT c.id, ts_rank(c.tsv, {_QUERY}, 1) FROM (SELECT p.id, p.tsv FROM pages AS p"
                    f" WHERE {where} ORDER BY p.id DESC LIMIT :need) AS c"
                ),
                {**params, "low": low, "high": high, "need": count - len(found)},
            ).all()
        found += [(int(r[0]), float(r[1])) for r in rows]
        high, span = low - 1, span * 4
    return found


@contextmanager
def _bitmap_only(session: Session, *, on: bool) -> Iterator[None]:
    """Within: bitmap scans only, so the planner intersects the key index with the page-id
    range instead of walking the primary key and computing each page's keys (the key index's
    expression is costly: it pairs the page's words)."""
    if not on:
        yield
        return
    _set_local(session, {"enable_indexscan": "off", "enable_seqscan": "off"})
    try:
        yield
    finally:
        _set_local(session, {"enable_indexscan": "on", "enable_seqscan": "on"})


def _set_local(session: Session, settings: dict[str, str]) -> None:
    """Planner settings for the rest of this transaction (one round trip)."""
    names = list(settings)
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    session.execute(
        text(f"SELECT {calls}"),
        {**{f"n{i}": n for i, n in enumerate(names)}, **{f"v{i}": settings[n] for i, n in enumerate(names)}},
    )


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
            " JOIN sources AS s ON s.sha256 = d.source_sha256"
            " WHERE p.id = ANY(:ids) AND d.superseded_by IS NULL"
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
