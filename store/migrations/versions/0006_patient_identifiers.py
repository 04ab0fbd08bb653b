"""Patients' other identifiers: insurance member IDs, account or encounter numbers, previous
MRNs after a merge, former names and aliases (the roster's optional columns), one row each.

Matching looks numbers up by ``(kind, value_norm)``; a patient's rows go with it
(ON DELETE CASCADE) and are replaced when the roster lists the patient again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient_identifiers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_mrn", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("value_norm", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_mrn"],
            ["patients.mrn"],
            name="fk_patient_identifiers_patient_mrn_patients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_patient_identifiers"),
        sa.CheckConstraint(
            "kind IN ('member_id', 'account', 'previous_mrn', 'alias')", name="ck_patient_identifiers_kind"
        ),
        sa.UniqueConstraint("patient_mrn", "kind", "value_norm", name="uq_patient_identifiers_value"),
    )
    op.create_index("ix_patient_identifiers_kind_value", "patient_identifiers", ["kind", "value_norm"])
    op.create_index("ix_patient_identifiers_patient_mrn", "patient_identifiers", ["patient_mrn"])


def downgrade() -> None:
    op.drop_index("ix_patient_identifiers_patient_mrn", table_name="patient_identifiers")
    op.drop_index("ix_patient_identifiers_kind_value", table_name="patient_identifiers")
    op.drop_table("patient_identifiers")
