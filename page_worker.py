"""The per-page half of the pipeline: everything done to one page, in a worker
process. Takes a picklable task and context, returns a frozen outcome."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chartclerk.errors import ChartclerkError
from chartclerk.ingest import PageTask, is_separator, load_page, read_codes, read_cover
from chartclerk.log import document_context
from chartclerk.ocr import Word, check_orientation, normalize_resolution, read_page, straighten_page
from chartclerk.settings import IngestSettings, OcrSettings
from chartclerk.store import TextSource, WordBox, make_page_pdf
from chartclerk.timing import StageTimes, Stopwatch


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a worker process needs for one page; picklable."""

    ingest: IngestSettings
    ocr: OcrSettings
    tmp_dir: Path


@dataclass(frozen=True, slots=True)
class PageOutcome:
    number: int
    separator: bool = False  # a separator or patient cover sheet: not a page of any document
    cover_mrn: str | None = None  # the MRN on a patient cover sheet
    skew_degrees: float = 0.0
    rotation_degrees: int = 0
    ocr_confidence: float | None = None
    text: str = ""
    pdf_page: Path | None = None
    words: tuple[WordBox, ...] = ()
    text_source: TextSource = "ocr"
    error: str | None = None
    times: StageTimes = ()


def process_page(task: PageTask, ctx: PageContext) -> PageOutcome:
    """Everything done to one page; runs in a worker process."""
    watch = Stopwatch()
    with document_context(f"{task.source.sha256[:12]}:p{task.number}"):
        try:
            with watch.lap("rasterize"):
                page = load_page(task.source, task.number, ctx.ingest)
            with watch.lap("barcodes"):
                codes = read_codes(page.image)
            cover = read_cover(codes)
            if cover is not None or is_separator(codes, ctx.ingest.separator_code):
                return PageOutcome(task.number, separator=True, cover_mrn=cover, times=watch.times())
            with watch.lap("deskew+orientation"):
                straight = straighten_page(normalize_resolution(page, ctx.ocr))
            del page  # the scan as read is not needed any more: 8 MB less held while tesseract runs
            with watch.lap("ocr"):
                read = read_page(straight, ctx.ocr)
            with watch.lap("orientation check (OSD)"):
                read = check_orientation(read, ctx.ocr)
            with watch.lap("page pdf"):
                pdf_page = ctx.tmp_dir / f"{task.source.sha256[:24]}-{task.number:05d}.pdf"
                layer = read.ocr.text_layer_pdf
                pdf_page.write_bytes(
                    make_page_pdf(
                        read.page.image,
                        read.page.dpi,
                        layer,
                        ctx.ocr.jpeg_quality,
                        layer_region=read.ocr.region,
                    )
                )
        except ChartclerkError as e:
            return PageOutcome(task.number, error=f"page {task.number}: {e.message}")
        return PageOutcome(
            times=watch.times(),
            number=task.number,
            skew_degrees=read.page.skew_degrees,
            rotation_degrees=read.page.rotation_degrees,
            ocr_confidence=None if read.ocr.mean_confidence is None else round(read.ocr.mean_confidence, 1),
            text=read.ocr.text,
            pdf_page=pdf_page,
            words=word_boxes(read.ocr.words, read.page.image.shape[1], read.page.image.shape[0]),
        )


def word_boxes(words: tuple[Word, ...], width: int, height: int) -> tuple[WordBox, ...]:
    """OCR words in pixels of the page image as archived, as fractions of that page."""
    return tuple(
        WordBox(
            w.text,
            round(w.left / width, 5),
            round(w.top / height, 5),
            round(w.width / width, 5),
            round(w.height / height, 5),
            round(w.confidence, 1),
        )
        for w in words
    )
