"""Finding scan files and reading their pages: file types, page streaming,
separator sheets, the watched inbox and the failed folder."""

from chartclerk.ingest.batches import BatchDocument, split_batch
from chartclerk.ingest.coversheet import read_cover
from chartclerk.ingest.discover import discover_files, is_ignored_dir, is_ignored_name
from chartclerk.ingest.models import PageImage, PageTask, SourceFile
from chartclerk.ingest.quarantine import quarantine
from chartclerk.ingest.separators import is_separator, read_codes
from chartclerk.ingest.sources import inspect_source, load_page

__all__ = [
    "BatchDocument",
    "PageImage",
    "PageTask",
    "SourceFile",
    "discover_files",
    "inspect_source",
    "is_ignored_dir",
    "is_ignored_name",
    "is_separator",
    "load_page",
    "quarantine",
    "read_codes",
    "read_cover",
    "split_batch",
]
