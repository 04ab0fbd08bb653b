"""PostgreSQL search keys: word pairs and the patient/type scope in one GIN index.

On PostgreSQL only (SQLite's FTS5 index of 0004 already holds the scope, and checks phrases
with the positions it keeps): 0011's GIN index on ``pages.tsv`` holds the words only, so a
phrase had every page holding all its words re-read to check word positions (GIN keeps no
positions), and the type filter was a join per candidate page. This revision replaces that
index by ``ix_pages_keys``, a GIN index on ``chartclerk_keys(tsv, scope)``:

- the page's lexemes (as before);
- one key per pair of adjacent lexemes (``chartclerk_pairs``): ``~`` and the first 5 hex
  digits of the md5 of "first second" (2^20 buckets; a phrase's pages share its bucket with
  a few hundred pages of other pairs at a million pages, which the phrase check drops). A
  two-word phrase is then one posting list rather than the pages of both words, and a longer
  one the intersection of its pairs';
- ``pages.scope``: the document's patient and type as ``@p``/``@t`` and the md5 of the value
  (a ``tsvector``), kept equal to the document's by triggers when a page is written and when a
  document's patient or type changes (as 0004's triggers keep FTS5's ``scope`` column).

Keys start with ``~`` or ``@``, which the parser never leaves in a lexeme of the user's words
(letters and digits), so no query word can match one. ``chartclerk_key_query`` makes the key
query of a search (chartclerk.store.search_pg): every word's lexeme, every adjacent pair's key
and the scope, ANDed, no phrase operator (so GIN answers it without a recheck); the exact query
(``tsv @@ websearch_to_tsquery(...)``) still decides every hit. Upgrading fills ``scope`` and
builds the index (about 0.5 ms a page: the pairs are computed from each page's tsvector).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IMMUTABLE = "IMMUTABLE PARALLEL SAFE"

KEYS_SQL = (
    "CREATE FUNCTION chartclerk_pair_key(first text, second text) RETURNS text"
    f" LANGUAGE sql {_IMMUTABLE} STRICT AS $$ SELECT '~' || left(md5(first || ' ' || second), 5) $$",
    # Every pair of lexemes at adjacent positions (what tsquery's <-> matches). Its cost (about
    # 0.4 ms a page) is declared, so that the planner never computes the keys of every page
    # in a range rather than reading the key index.
    "CREATE FUNCTION chartclerk_pairs(v tsvector) RETURNS tsvector"
    f" LANGUAGE sql {_IMMUTABLE} STRICT COST 100000 AS $$"
    " SELECT coalesce(array_to_tsvector(array_agg(DISTINCT chartclerk_pair_key(a.lexeme, b.lexeme))), '')"
    " FROM (SELECT lexeme, unnest(positions) AS pos FROM unnest(v)) AS a"
    " JOIN (SELECT lexeme, unnest(positions) AS pos FROM unnest(v)) AS b ON b.pos = a.pos + 1 $$",
    "CREATE FUNCTION chartclerk_scope(mrn text, doc_type text) RETURNS tsvector"
    f" LANGUAGE sql {_IMMUTABLE} AS $$ SELECT array_to_tsvector("
    " array_remove(ARRAY['@p' || md5(mrn), '@t' || md5(doc_type)], NULL)) $$",
    "CREATE FUNCTION chartclerk_keys(tsv tsvector, scope tsvector) RETURNS tsvector"
    f" LANGUAGE sql {_IMMUTABLE} AS $$ SELECT strip(tsv) || chartclerk_pairs(tsv) || coalesce(scope, '') $$",
    # The key query of a search: terms are words joined by single spaces; mrns (any of them)
    # and doc_type may be NULL. Lexemes holding a quote or backslash are left out (the key
    # query only narrows the candidates; the exact query decides).
    f"CREATE FUNCTION chartclerk_key_query(terms text[], mrns text[], doc_type text) RETURNS text"
    f" LANGUAGE plpgsql {_IMMUTABLE} AS $$"
    " DECLARE term text; word text; lexemes text[]; cur text; prev text; parts text[] := '{}';"
    " BEGIN"
    "  FOREACH term IN ARRAY coalesce(terms, '{}') LOOP"
    "   prev := NULL;"
    "   FOREACH word IN ARRAY string_to_array(term, ' ') LOOP"
    "    lexemes := ARRAY(SELECT lexeme FROM unnest(to_tsvector('chartclerk', word)));"
    "    cur := CASE WHEN cardinality(lexemes) = 1 AND lexemes[1] !~ '[''\\\\]' THEN lexemes[1] END;"
    "    IF cur IS NOT NULL THEN parts := parts || quote_literal(cur); END IF;"
    "    IF cur IS NOT NULL AND prev IS NOT NULL THEN"
    "     parts := parts || quote_literal(chartclerk_pair_key(prev, cur)); END IF;"
    "    prev := cur;"
    "   END LOOP;"
    "  END LOOP;"
    "  IF cardinality(mrns) > 0 THEN"
    "   parts := parts || ('(' || (SELECT string_agg(quote_literal('@p' || md5(m)), ' | ')"
    " FROM unnest(mrns) AS m) || ')'); END IF;"
    "  IF doc_type IS NOT NULL THEN parts := parts || quote_literal('@t' || md5(doc_type)); END IF;"
    "  RETURN array_to_string(parts, ' & ');"
    " END $$",
    "ALTER TABLE pages ADD COLUMN scope tsvector",
    "UPDATE pages SET scope = chartclerk_scope(d.patient_mrn, d.doc_type)"
    " FROM documents AS d WHERE d.id = pages.document_id",
    "CREATE FUNCTION chartclerk_page_scope() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " NEW.scope := (SELECT chartclerk_scope(d.patient_mrn, d.doc_type) FROM documents AS d"
    " WHERE d.id = NEW.document_id); RETURN NEW; END $$",
    "CREATE TRIGGER pages_scope BEFORE INSERT OR UPDATE OF document_id ON pages"
    " FOR EACH ROW EXECUTE FUNCTION chartclerk_page_scope()",
    "CREATE FUNCTION chartclerk_document_scope() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE pages SET scope = chartclerk_scope(NEW.patient_mrn, NEW.doc_type) WHERE document_id = NEW.id;"
    " RETURN NULL; END $$",
    "CREATE TRIGGER documents_scope AFTER UPDATE OF patient_mrn, doc_type ON documents FOR EACH ROW"
    " WHEN (OLD.patient_mrn IS DISTINCT FROM NEW.patient_mrn OR OLD.doc_type IS DISTINCT FROM NEW.doc_type)"
    " EXECUTE FUNCTION chartclerk_document_scope()",
    "DROP INDEX IF EXISTS ix_pages_tsv",
    "CREATE INDEX ix_pages_keys ON pages USING gin (chartclerk_keys(tsv, scope))",
    # The key index's lexeme statistics, from which the search estimates how common a query is.
    "ANALYZE pages",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: FTS5 (0004) holds the scope and word positions already
    for statement in KEYS_SQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_pages_keys")
    op.execute("CREATE INDEX IF NOT EXISTS ix_pages_tsv ON pages USING gin (tsv)")
    op.execute("DROP TRIGGER IF EXISTS documents_scope ON documents")
    op.execute("DROP TRIGGER IF EXISTS pages_scope ON pages")
    op.execute("DROP FUNCTION IF EXISTS chartclerk_document_scope()")
    op.execute("DROP FUNCTION IF EXISTS chartclerk_page_scope()")
    op.execute("ALTER TABLE pages DROP COLUMN IF EXISTS scope")
    for function in (
        "chartclerk_key_query(text[], text[], text)",
        "chartclerk_keys(tsvector, tsvector)",
        "chartclerk_scope(text, text)",
        "chartclerk_pairs(tsvector)",
        "chartclerk_pair_key(text, text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
