"""Splitting one scanned batch into documents at separator and cover sheets.

A separator sheet ends the document before it. A patient cover sheet ends it too, and sets
the batch's patient for every following document until the next cover sheet (a separator
does not reset it). The sheets themselves are not documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class SheetPage(Protocol):
    """What splitting needs to know of a page (the pipeline's page outcome has it)."""

    @property
    def separator(self) -> bool:
        """A separator or cover sheet: it ends the document before it."""
        ...

    @property
    def cover_mrn(self) -> str | None:
        """The MRN of a patient cover sheet (None for any other page)."""
        ...


P = TypeVar("P", bound=SheetPage)


@dataclass(frozen=True, slots=True)
class BatchDocument(Generic[P]):
    pages: tuple[P, ...]
    cover_mrn: str | None  # of the cover sheet the document was scanned under, if any


def split_batch(pages: Iterable[P]) -> list[BatchDocument[P]]:
    """Runs of pages between sheets, each with the cover sheet in force; empty runs are dropped."""
    documents: list[BatchDocument[P]] = []
    run: list[P] = []
    cover: str | None = None
    for page in pages:
        if page.separator or page.cover_mrn is not None:
            if run:
                documents.append(BatchDocument(tuple(run), cover))
            run = []
            if page.cover_mrn is not None:
                cover = page.cover_mrn
        else:
            run.append(page)
    if run:
        documents.append(BatchDocument(tuple(run), cover))
    return documents
