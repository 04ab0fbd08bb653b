"""The one place where the archive's full-text search backend is chosen, by database dialect:
SQLite's FTS5 (chartclerk.store.search), PostgreSQL's tsvector and GIN index
(chartclerk.store.search_pg), or a LIKE scan elsewhere. Callers see one function type."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from chartclerk.store.models import SearchHit
from chartclerk.store.search import search_fts, search_like
from chartclerk.store.search_pg import search_pg

__all__ = ["SearchFunction", "search_backend"]


class SearchFunction(Protocol):
    def __call__(
        self,
        session: Session,
        terms: list[list[str]],
        *,
        patient: str | None,
        doc_type: str | None,
        limit: int,
    ) -> list[SearchHit]: ...


def search_backend(dialect: str) -> SearchFunction:
    """The search function for a database of this SQLAlchemy dialect name."""
    if dialect == "sqlite":
        return search_fts
    if dialect == "postgresql":
        return search_pg
    return search_like
