"""The archive: originals, searchable PDFs, the database and its full-text index.

Open it with ``Archive.open(settings)``; everything else goes through that object.
"""

from chartclerk.store.archive import Archive
from chartclerk.store.models import ArchivedDocument, DocumentRecord, PageRecord, SearchHit, SourceRecord
from chartclerk.store.pdf import PdfMetadata, assemble_pdf, make_page_pdf, update_pdf_metadata
from chartclerk.store.roster import ArchiveRoster

__all__ = [
    "Archive",
    "ArchiveRoster",
    "ArchivedDocument",
    "DocumentRecord",
    "PageRecord",
    "PdfMetadata",
    "SearchHit",
    "SourceRecord",
    "assemble_pdf",
    "make_page_pdf",
    "update_pdf_metadata",
]
