"""Release of information: restricted documents, requests for records and the hash-chained
disclosure log (append-only on SQLite).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_SQL = (
    "CREATE TRIGGER disclosures_no_update BEFORE UPDATE ON disclosures BEGIN "
    "SELECT RAISE(ABORT, 'disclosure log is append-only'); END",
    "CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures BEGIN "
    "SELECT RAISE(ABORT, 'disclosure log is append-only'); END",
)


def upgrade() -> None:
    op.create_table(
        "document_restrictions",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_restrictions_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_document_restrictions"),
    )
    op.create_table(
        "release_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_mrn", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(256), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("purpose", sa.String(512), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extension_reason", sa.String(512), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(512), nullable=True),
        sa.Column("scope_types", sa.Text(), nullable=False),
        sa.Column("scope_from", sa.Date(), nullable=True),
        sa.Column("scope_to", sa.Date(), nullable=True),
        sa.Column("scope_documents", sa.Text(), nullable=False),
        sa.Column("include_restricted", sa.Boolean(), nullable=False),
        sa.Column("packet_sha256", sa.String(64), nullable=True),
        sa.Column("packet_pages", sa.Integer(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'extended', 'released', 'denied')", name="ck_release_requests_status"
        ),
        sa.CheckConstraint("due_on >= received_on", name="ck_release_requests_due_after_received"),
        sa.ForeignKeyConstraint(
            ["patient_mrn"], ["patients.mrn"], name="fk_release_requests_patient_mrn_patients"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_release_requests"),
    )
    op.create_index("ix_release_requests_patient_mrn", "release_requests", ["patient_mrn"])
    op.create_index("ix_release_requests_due_on", "release_requests", ["due_on"])
    op.create_index("ix_release_requests_status", "release_requests", ["status"])
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_mrn", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(256), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(512), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("documents", sa.Text(), nullable=False),
        sa.Column("packet_sha256", sa.String(64), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disclosures"),
        sa.UniqueConstraint("hash", name="uq_disclosures_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_disclosures_at", "disclosures", ["at"])
    op.create_index("ix_disclosures_patient_mrn", "disclosures", ["patient_mrn"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in APPEND_ONLY_SQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS disclosures_no_delete")
        op.execute("DROP TRIGGER IF EXISTS disclosures_no_update")
    op.drop_index("ix_disclosures_patient_mrn", table_name="disclosures")
    op.drop_index("ix_disclosures_at", table_name="disclosures")
    op.drop_table("disclosures")
    op.drop_index("ix_release_requests_status", table_name="release_requests")
    op.drop_index("ix_release_requests_due_on", table_name="release_requests")
    op.drop_index("ix_release_requests_patient_mrn", table_name="release_requests")
    op.drop_table("release_requests")
    op.drop_table("document_restrictions")
