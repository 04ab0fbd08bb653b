"""Findability: identifiers through OCR look-alikes, near-duplicate scans.

Identifiers: ``pages.idents`` indexed in pages_fts.

``pages.idents`` holds each page's identifier-like tokens (accession, claim, member
numbers...) folded for OCR look-alikes (chartclerk.store.idents: 0/O/D/Q, 1/I/l/7, 5/S,
8/B/3, 2/Z, 6/G, rn/m); the ORM fills it from the page text. ``pages_fts`` gets a third
column, ``idents``, read from the view ``pages_scoped`` like the others, and the triggers
re-index a page when its idents change too.

Near duplicates (chartclerk.store.dedupe): ``documents.duplicate_of``,
``duplicate_similarity`` and ``superseded_by``; ``doc_signatures`` (each document's MinHash
and number tokens) and ``doc_buckets`` (its LSH band keys, the candidate index). Documents
archived before this revision get no signature: they are not offered as originals.

Upgrading computes idents for every archived page and rebuilds the full-text index (as
migration 0004 does: about two minutes per million pages); downgrading restores the
0004 index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chartclerk.store.idents import identifier_index

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = ("documents_fts_bd", "documents_fts_au", "pages_fts_au", "pages_fts_ad", "pages_fts_ai")
_BATCH = 5000


def _scope(doc: str) -> str:
    # As migration 0004 makes it (chartclerk.store.search.scope_token).
    return (
        f"CASE WHEN {doc}.patient_mrn IS NULL THEN '' ELSE 'p' || lower(hex({doc}.patient_mrn)) || '0 ' END"
        f" || 't' || lower(hex({doc}.doc_type)) || '0'"
    )


def _sql(with_idents: bool) -> tuple[str, ...]:
    cols = "text, scope, idents" if with_idents else "text, scope"

    def values(page: str, doc: str) -> str:
        extra = f", {page}.idents" if with_idents else ""
        return f"{page}.id, {page}.text, {_scope(doc)}{extra}"

    def delete(page: str, doc: str, rows: str) -> str:
        return f"INSERT INTO pages_fts(pages_fts, rowid, {cols}) SELECT 'delete', {values(page, doc)} {rows};"

    def insert(page: str, doc: str, rows: str) -> str:
        return f"INSERT INTO pages_fts(rowid, {cols}) SELECT {values(page, doc)} {rows};"

    of_page = "FROM documents AS d WHERE d.id = {v}.document_id"
    of_doc = "FROM pages AS p WHERE p.document_id = {v}.id"
    watched = "id, text, document_id, idents" if with_idents else "id, text, document_id"
    view_extra = ", p.idents AS idents" if with_idents else ""
    return (
        f"CREATE VIEW pages_scoped AS SELECT p.id AS id, p.text AS text, {_scope('d')} AS scope{view_extra}"
        " FROM pages AS p JOIN documents AS d ON d.id = p.document_id",
        f"CREATE VIRTUAL TABLE pages_fts USING fts5({cols}, content='pages_scoped', content_rowid='id',"
        " tokenize='porter unicode61')",
        "CREATE TRIGGER pages_fts_ai AFTER INSERT ON pages BEGIN "
        f"{insert('new', 'd', of_page.format(v='new'))} END",
        "CREATE TRIGGER pages_fts_ad AFTER DELETE ON pages BEGIN "
        f"{delete('old', 'd', of_page.format(v='old'))} END",
        f"CREATE TRIGGER pages_fts_au AFTER UPDATE OF {watched} ON pages BEGIN "
        f"{delete('old', 'd', of_page.format(v='old'))} {insert('new', 'd', of_page.format(v='new'))} END",
        "CREATE TRIGGER documents_fts_au AFTER UPDATE OF patient_mrn, doc_type ON documents "
        "WHEN old.patient_mrn IS NOT new.patient_mrn OR old.doc_type IS NOT new.doc_type BEGIN "
        f"{delete('p', 'old', of_doc.format(v='old'))} {insert('p', 'new', of_doc.format(v='new'))} END",
        "CREATE TRIGGER documents_fts_bd BEFORE DELETE ON documents BEGIN "
        f"{delete('p', 'old', of_doc.format(v='old'))} END",
    )


def _drop_index() -> None:
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS pages_fts")
    op.execute("DROP VIEW IF EXISTS pages_scoped")


def _create_index(with_idents: bool) -> None:
    for statement in _sql(with_idents):
        op.execute(statement)
    op.execute("INSERT INTO pages_fts(pages_fts) VALUES ('rebuild')")
    op.execute("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')")


def _fill_idents() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, text FROM pages WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": _BATCH},
        ).all()
        if not rows:
            return
        updates = [{"id": row[0], "idents": identifier_index(row[1] or "")} for row in rows]
        updates = [u for u in updates if u["idents"]]
        if updates:
            bind.execute(sa.text("UPDATE pages SET idents = :idents WHERE id = :id"), updates)
        last = rows[-1][0]


def upgrade() -> None:
    op.add_column("documents", sa.Column("duplicate_of", sa.Integer(), nullable=True))
    op.add_column("documents", sa.Column("duplicate_similarity", sa.Float(), nullable=True))
    op.add_column("documents", sa.Column("superseded_by", sa.Integer(), nullable=True))
    op.create_table(
        "doc_signatures",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_doc_signatures_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_doc_signatures"),
    )
    op.create_table(
        "doc_buckets",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_doc_buckets_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "document_id", name="pk_doc_buckets"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_index()
    op.add_column("pages", sa.Column("idents", sa.Text(), nullable=False, server_default=""))
    _fill_idents()
    if sqlite:
        _create_index(with_idents=True)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_index()
    op.drop_column("pages", "idents")
    op.drop_table("doc_buckets")
    op.drop_table("doc_signatures")
    for column in ("superseded_by", "duplicate_similarity", "duplicate_of"):
        op.drop_column("documents", column)
    if sqlite:
        _create_index(with_idents=False)
