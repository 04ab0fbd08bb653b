"""The archive: originals, searchable PDFs, the database and its full-text index.

Open it with ``Archive.open(settings)``; everything else goes through that object.
"""

from chartclerk.store.archive import Archive
from chartclerk.store.audit import Actor, AuditEntry, ChainReport, current_actor
from chartclerk.store.models import (
    ArchivedDocument,
    DocumentFiles,
    DocumentRecord,
    PageRecord,
    SearchHit,
    SourceRecord,
    TextSource,
    WordBox,
)
from chartclerk.store.pdf import (
    PdfMetadata,
    assemble_pdf,
    keep_pdf_page,
    make_page_pdf,
    turned_page_pdf,
    update_pdf_metadata,
)
from chartclerk.store.recovery import RecoveryReport
from chartclerk.store.roster import ArchiveRoster
from chartclerk.store.verify import Problem, VerifyReport

__all__ = [
    "Actor",
    "Archive",
    "ArchiveRoster",
    "ArchivedDocument",
    "AuditEntry",
    "ChainReport",
    "DocumentFiles",
    "DocumentRecord",
    "PageRecord",
    "PdfMetadata",
    "Problem",
    "RecoveryReport",
    "SearchHit",
    "SourceRecord",
    "TextSource",
    "VerifyReport",
    "WordBox",
    "assemble_pdf",
    "current_actor",
    "keep_pdf_page",
    "make_page_pdf",
    "turned_page_pdf",
    "update_pdf_metadata",
]
