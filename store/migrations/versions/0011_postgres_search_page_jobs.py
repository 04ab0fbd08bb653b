"""PostgreSQL full-text search, and the page jobs of distributed ingest.

On PostgreSQL (SQLite keeps its FTS5 index of 0004): a text search configuration
``chartclerk`` (English Snowball stemming without stop words, accents removed, as FTS5's
``porter unicode61``), a generated column ``pages.tsv`` holding each page's tsvector and a
GIN index on it (chartclerk.store.search_pg queries them); triggers that make the audit log
append-only, as 0002's do on SQLite.

On every database: ``page_jobs``, one row per page of a file being read by Celery workers
(chartclerk.distributed), keyed by the source's sha256 and the page number: the job id of
the current submission, its state, how many deliveries started it (a page that kills its
worker three times fails its file), the worker, and the page's result once read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_log", "disclosures")

PG_SEARCH_SQL = (
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH DICTIONARY chartclerk_stem (TEMPLATE = snowball, Language = english)",
    "CREATE TEXT SEARCH CONFIGURATION chartclerk (COPY = english)",
    "ALTER TEXT SEARCH CONFIGURATION chartclerk ALTER MAPPING FOR"
    " asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH unaccent, chartclerk_stem",
    "ALTER TABLE pages ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('chartclerk', text)) STORED",
    "CREATE INDEX ix_pages_tsv ON pages USING gin (tsv)",
    # The look-alike tokens of 0009's idents column (chartclerk.store.search_pg._code_pages).
    "CREATE INDEX ix_pages_idents ON pages USING gin (to_tsvector('simple', idents))",
    # The audit log and the disclosure log are append-only, as 0002's and 0008's triggers make
    # them on SQLite.
    "CREATE FUNCTION chartclerk_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    *(
        # per statement: refused even when no row matches, and TRUNCATE too
        f"CREATE TRIGGER {table}_no_{op_name} BEFORE {op_name.upper()} ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION chartclerk_append_only()"
        for table in APPEND_ONLY
        for op_name in ("update", "delete", "truncate")
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_SEARCH_SQL:
            op.execute(statement)
    op.create_table(
        "page_jobs",
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(256), nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
        sa.Column("result", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_sha256", "page", name="pk_page_jobs"),
    )
    op.create_index("ix_page_jobs_state", "page_jobs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_page_jobs_state", table_name="page_jobs")
    op.drop_table("page_jobs")
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            for op_name in ("update", "delete", "truncate"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op_name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS chartclerk_append_only()")
        op.execute("DROP INDEX IF EXISTS ix_pages_idents")
        op.execute("DROP INDEX IF EXISTS ix_pages_tsv")
        op.execute("ALTER TABLE pages DROP COLUMN IF EXISTS tsv")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS chartclerk")
        op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS chartclerk_stem")
