"""File jobs of distributed ingest: each file is assembled by the worker that finishes it.

``file_jobs``, one row per file whose pages Celery workers read (chartclerk.distributed),
keyed by the source's sha256: the submission (job id, shared with its page_jobs rows), the
path the submitting process gave, the page count, the state (reading, assembling, archived,
duplicate, failed), how many assemblies started, the worker that assembled it, and the
outcome the submitting process reports (document ids, error, the pickled FileOutcome).

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_jobs",
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(256), nullable=True),
        sa.Column("documents", sa.Text(), nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
        sa.Column("outcome", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_sha256", name="pk_file_jobs"),
    )
    op.create_index("ix_file_jobs_state", "file_jobs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_file_jobs_state", table_name="file_jobs")
    op.drop_table("file_jobs")
