"""Chart deficiencies: findings per document and which PDF the analysis last read.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deficiencies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("patient_mrn", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(128), nullable=True),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("sure", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="ck_deficiencies_status"),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_deficiencies_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deficiencies"),
        sa.UniqueConstraint("document_id", "key", name="uq_deficiencies_document_key"),
    )
    op.create_index("ix_deficiencies_document_id", "deficiencies", ["document_id"])
    op.create_index("ix_deficiencies_patient_mrn", "deficiencies", ["patient_mrn"])
    op.create_index("ix_deficiencies_kind", "deficiencies", ["kind"])
    op.create_index("ix_deficiencies_status_found_at", "deficiencies", ["status", "found_at"])
    op.create_table(
        "deficiency_scans",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_deficiency_scans_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_deficiency_scans"),
    )


def downgrade() -> None:
    op.drop_table("deficiency_scans")
    op.drop_index("ix_deficiencies_status_found_at", table_name="deficiencies")
    op.drop_index("ix_deficiencies_kind", table_name="deficiencies")
    op.drop_index("ix_deficiencies_patient_mrn", table_name="deficiencies")
    op.drop_index("ix_deficiencies_document_id", table_name="deficiencies")
    op.drop_table("deficiencies")
