"""Initial schema: patients, sources, documents, pages, corrections; pages_fts on SQLite.

Revision ID: 0001
Revises:
Create Date: 2024-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The full-text index over pages.text: an external-content FTS5 table kept in sync by triggers.
FTS_SQL = (
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


def upgrade() -> None:
    utc = sa.DateTime(timezone=True)
    op.create_table(
        "patients",
        sa.Column("mrn", sa.String(64), nullable=False),
        sa.Column("mrn_norm", sa.String(64), nullable=False),
        sa.Column("last", sa.String(128), nullable=False),
        sa.Column("first", sa.String(128), nullable=False),
        sa.Column("dob", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("last_key", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("mrn", name="pk_patients"),
    )
    op.create_index("ix_patients_mrn_norm", "patients", ["mrn_norm"])
    op.create_index("ix_patients_dob", "patients", ["dob"])
    op.create_index("ix_patients_last_key", "patients", ["last_key"])

    op.create_table(
        "sources",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.CheckConstraint("status IN ('partial', 'complete')", name="ck_sources_status"),
        sa.PrimaryKeyConstraint("sha256", name="pk_sources"),
    )

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(64), nullable=False),
        sa.Column("loinc", sa.String(32), nullable=True),
        sa.Column("type_confidence", sa.Float(), nullable=False),
        sa.Column("patient_mrn", sa.String(64), nullable=True),
        sa.Column("patient_confidence", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("review_reason", sa.String(256), nullable=True),
        sa.Column("match_reason", sa.String(256), nullable=False),
        sa.Column("candidates_json", sa.Text(), nullable=False),
        sa.Column("pdf_path", sa.String(1024), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.CheckConstraint("status IN ('filed', 'review')", name="ck_documents_status"),
        sa.CheckConstraint(
            "status = 'review' OR patient_mrn IS NOT NULL", name="ck_documents_filed_has_patient"
        ),
        sa.CheckConstraint("first_page >= 1 AND last_page >= first_page", name="ck_documents_page_range"),
        sa.ForeignKeyConstraint(
            ["source_sha256"], ["sources.sha256"], name="fk_documents_source_sha256_sources"
        ),
        sa.ForeignKeyConstraint(["patient_mrn"], ["patients.mrn"], name="fk_documents_patient_mrn_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("source_sha256", "first_page", name="uq_documents_source_sha256"),
    )
    op.create_index("ix_documents_doc_type", "documents", ["doc_type"])
    op.create_index("ix_documents_patient_mrn", "documents", ["patient_mrn"])
    op.create_index("ix_documents_status", "documents", ["status"])

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source_page", sa.Integer(), nullable=False),
        sa.Column("skew_degrees", sa.Float(), nullable=False),
        sa.Column("rotation_degrees", sa.Integer(), nullable=False),
        sa.Column("ocr_confidence", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_pages_document_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.UniqueConstraint("document_id", "number", name="uq_pages_document_id"),
    )

    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("at", utc, nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_corrections_document_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_corrections"),
    )
    op.create_index("ix_corrections_document_id", "corrections", ["document_id"])

    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_SQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("pages_fts_au", "pages_fts_ad", "pages_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS pages_fts")
    op.drop_index("ix_corrections_document_id", table_name="corrections")
    op.drop_table("corrections")
    op.drop_table("pages")
    op.drop_index("ix_documents_status", table_name="documents")
    op.drop_index("ix_documents_patient_mrn", table_name="documents")
    op.drop_index("ix_documents_doc_type", table_name="documents")
    op.drop_table("documents")
    op.drop_index("ix_patients_last_key", table_name="patients")
    op.drop_index("ix_patients_dob", table_name="patients")
    op.drop_index("ix_patients_mrn_norm", table_name="patients")
    op.drop_table("patients")
    op.drop_table("sources")
