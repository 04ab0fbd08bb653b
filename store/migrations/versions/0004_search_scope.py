"""Search scope: pages_fts also indexes each page's patient and document type.

``pages_fts`` gets a second column, ``scope``: one token for the document's patient
(``p`` + hex of the MRN + ``0``) and one for its type (``t`` + hex of the type + ``0``),
so ``search --patient``/``--type`` are part of the MATCH (the few pages of one patient
are found by the index instead of by filtering every page that holds the words). Hex
keeps every value one token, exact and unstemmed (a token ending in a digit is never
changed by the porter stemmer). The index reads its content from the view
``pages_scoped`` (pages joined to their document); triggers keep it in sync when a page
is added, changed or removed and when a document's patient or type changes (filing,
corrections) or the document is deleted.

Upgrading rebuilds the full-text index from the page text (114 s for the 1,000,000
synthetic pages of bench/search.py); downgrading rebuilds the 0001 index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _scope(doc: str) -> str:
    """SQL for the scope tokens of document row ``doc`` (chartclerk.store.search makes the same)."""
    # hex(NULL) is '': a document in review (no patient) gets no patient token.
    return (
        f"CASE WHEN {doc}.patient_mrn IS NULL THEN '' ELSE 'p' || lower(hex({doc}.patient_mrn)) || '0 ' END"
        f" || 't' || lower(hex({doc}.doc_type)) || '0'"
    )


def _delete(page: str, doc: str, rows: str) -> str:
    return (
        "INSERT INTO pages_fts(pages_fts, rowid, text, scope)"
        f" SELECT 'delete', {page}.id, {page}.text, {_scope(doc)} {rows};"
    )


def _insert(page: str, doc: str, rows: str) -> str:
    return f"INSERT INTO pages_fts(rowid, text, scope) SELECT {page}.id, {page}.text, {_scope(doc)} {rows};"


# A page's document; it is gone when the page is deleted by the cascade of a document
# delete, whose trigger (documents_fts_bd) has then removed the page's entries already.
_OF_PAGE = "FROM documents AS d WHERE d.id = {v}.document_id"
_OF_DOC = "FROM pages AS p WHERE p.document_id = {v}.id"

SCOPE_SQL = (
    "CREATE VIEW pages_scoped AS SELECT p.id AS id, p.text AS text, "
    f"{_scope('d')} AS scope FROM pages AS p JOIN documents AS d ON d.id = p.document_id",
    "CREATE VIRTUAL TABLE pages_fts USING fts5("
    "text, scope, content='pages_scoped', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER pages_fts_ai AFTER INSERT ON pages BEGIN "
    f"{_insert('new', 'd', _OF_PAGE.format(v='new'))} END",
    "CREATE TRIGGER pages_fts_ad AFTER DELETE ON pages BEGIN "
    f"{_delete('old', 'd', _OF_PAGE.format(v='old'))} END",
    "CREATE TRIGGER pages_fts_au AFTER UPDATE OF id, text, document_id ON pages BEGIN "
    f"{_delete('old', 'd', _OF_PAGE.format(v='old'))} {_insert('new', 'd', _OF_PAGE.format(v='new'))} END",
    "CREATE TRIGGER documents_fts_au AFTER UPDATE OF patient_mrn, doc_type ON documents "
    "WHEN old.patient_mrn IS NOT new.patient_mrn OR old.doc_type IS NOT new.doc_type BEGIN "
    f"{_delete('p', 'old', _OF_DOC.format(v='old'))} {_insert('p', 'new', _OF_DOC.format(v='new'))} END",
    "CREATE TRIGGER documents_fts_bd BEFORE DELETE ON documents BEGIN "
    f"{_delete('p', 'old', _OF_DOC.format(v='old'))} END",
)
SCOPE_TRIGGERS = ("documents_fts_bd", "documents_fts_au", "pages_fts_au", "pages_fts_ad", "pages_fts_ai")

# Revision 0001's index, for downgrade.
TEXT_ONLY_SQL = (
    "CREATE VIRTUAL TABLE pages_fts USING fts5("
    "text, content='pages', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER pages_fts_ai AFTER INSERT ON pages BEGIN "
    "INSERT INTO pages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER pages_fts_ad AFTER DELETE ON pages BEGIN "
    "INSERT INTO pages_fts(pages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER pages_fts_au AFTER UPDATE OF text ON pages BEGIN "
    "INSERT INTO pages_fts(pages_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO pages_fts(rowid, text) VALUES (new.id, new.text); END",
)
TEXT_ONLY_TRIGGERS = ("pages_fts_au", "pages_fts_ad", "pages_fts_ai")


def _rebuild() -> None:
    # Re-index every page from the content table, then merge the index into one b-tree
    # per level ('optimize'): searches of common words read the fewest pages that way.
    op.execute("INSERT INTO pages_fts(pages_fts) VALUES ('rebuild')")
    op.execute("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TEXT_ONLY_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS pages_fts")
    for statement in SCOPE_SQL:
        op.execute(statement)
    _rebuild()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in SCOPE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS pages_fts")
    op.execute("DROP VIEW IF EXISTS pages_scoped")
    for statement in TEXT_ONLY_SQL:
        op.execute(statement)
    _rebuild()
