"""Finding scan files and reading their pages: file types, page streaming, a PDF page's
own text, separator sheets, the watched inbox and the failed folder."""

from chartclerk.ingest.batches import BatchDocument, split_batch
from chartclerk.ingest.coversheet import read_cover
from chartclerk.ingest.discover import discover_files, is_ignored_dir, is_ignored_name
from chartclerk.ingest.models import PageImage, PageTask, SourceFile
from chartclerk.ingest.pdftext import PageText, TextWord, read_page_text, turned_words
from chartclerk.ingest.quarantine import quarantine
from chartclerk.ingest.separators import is_separator, read_codes
from chartclerk.ingest.sources import inspect_source, load_page
from chartclerk.ingest.textlayer import (
    PageKind,
    PageSurvey,
    TextQuality,
    code_pictures,
    survey_pdf_page,
    text_quality,
)

__all__ = [
    "BatchDocument",
    "PageImage",
    "PageKind",
    "PageSurvey",
    "PageText",
    "PageTask",
    "SourceFile",
    "TextQuality",
    "TextWord",
    "code_pictures",
    "discover_files",
    "inspect_source",
    "is_ignored_dir",
    "is_ignored_name",
    "is_separator",
    "load_page",
    "quarantine",
    "read_codes",
    "read_cover",
    "read_page_text",
    "split_batch",
    "survey_pdf_page",
    "text_quality",
    "turned_words",
]
