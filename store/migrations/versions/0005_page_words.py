"""Pages: word boxes and where the text came from.

``pages.words`` holds each page's words with their boxes as JSON
(``[[text, left, top, width, height, confidence], ...]``, fractions of the archived
page), so a viewer can draw search hits over the page image without reading the PDF
again. ``pages.text_source`` says whether the page's text was read by tesseract
(``ocr``) or taken from a digital page's own text layer (``file``). Pages archived
before this revision keep an empty word list and ``ocr``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pages", sa.Column("words", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("pages", sa.Column("text_source", sa.String(8), nullable=False, server_default="ocr"))


def downgrade() -> None:
    op.drop_column("pages", "text_source")
    op.drop_column("pages", "words")
