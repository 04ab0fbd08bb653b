"""The per-page half of the pipeline: everything done to one page, in a worker
process. Takes a picklable task and context, returns a frozen outcome.

A PDF page is first surveyed (``ingest.survey_pdf_page``, about a millisecond): a page that
carries its own visible text keeps it, exactly, and is archived as it is (made inert), with
no rendering and no OCR; a page whose text may not be what it shows (another program's
invisible OCR layer, text under or over a picture covering the page) keeps it only when a
quick OCR of a band of the page agrees with it; every other page is a scan."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from chartclerk.errors import ArchiveError, ChartclerkError
from chartclerk.ingest import (
    PageImage,
    PageSurvey,
    PageTask,
    PageText,
    code_pictures,
    is_separator,
    load_page,
    read_codes,
    read_cover,
    read_page_text,
    survey_pdf_page,
    text_quality,
    turned_words,
)
from chartclerk.log import document_context
from chartclerk.ocr import (
    Word,
    check_orientation,
    layer_agreement,
    normalize_resolution,
    read_page,
    straighten_page,
)
from chartclerk.settings import IngestSettings, OcrSettings
from chartclerk.store import TextSource, WordBox, keep_pdf_page, make_page_pdf, turned_page_pdf
from chartclerk.timing import StageTimes, Stopwatch

log = logging.getLogger(__name__)


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
            survey = None
            if task.source.kind == "pdf" and ctx.ingest.digital_text == "use":
                with watch.lap("survey"):
                    survey = survey_pdf_page(task.source.path, task.number)
                if survey.kind == "text":
                    with watch.lap("file text"):
                        digital = read_file_page(task, survey, ctx)
                    if digital is not None:
                        return replace(digital, times=watch.times())
            with watch.lap("rasterize"):
                page = load_page(task.source, task.number, ctx.ingest)
            with watch.lap("barcodes"):
                codes = read_codes(page.image)
            cover = read_cover(codes)
            if cover is not None or is_separator(codes, ctx.ingest.separator_code):
                return PageOutcome(task.number, separator=True, cover_mrn=cover, times=watch.times())
            if survey is not None and survey.kind == "layer":
                with watch.lap("text layer check"):
                    kept = check_text_layer(task, survey, page, ctx)
                if kept is not None:
                    return replace(kept, times=watch.times())
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


# A page's own text is taken only when it reads as language: poppler writes U+FFFD or
# private-use characters for glyphs without a Unicode mapping, and a scrambled mapping gives
# words no dictionary knows (the benchmark's 200 digital pages: 0.72-0.98 of their words in
# the dictionary, medical terms being the misses; the same text with its letters shifted by
# three, as a scrambling encoding gives it: 0-0.13).
_MAX_UNMAPPED = 0.02
_MIN_WORDS_TO_JUDGE = 20
_MIN_IN_DICTIONARY = 0.3
# Text turned more than this off level is read from a level copy of its page: poppler, keeping
# the drawing order, splits tilted words ("Ri ve rs ide").
_LEVEL_DEGREES = 0.1
# Another program's OCR layer is kept when a quick OCR of a band of the page finds at least
# this share of its confident words in the layer (ocr/crosscheck.py). Measured on generated
# layers over three scans: a good layer 0.97-1.00, one with 10% of its words garbled
# 0.92-0.97, 25% garbled 0.86-0.88, 50% garbled 0.69-0.77, other text hidden under the scan 0.
_MIN_LAYER_AGREEMENT = 0.9
# An OCR layer with fewer of its words in the dictionary than this is read again without the
# sample (0.8-0.93 for good layers of the test pages, 0.46-0.63 with half their words garbled).
_MIN_LAYER_IN_DICTIONARY = 0.65


def read_file_page(task: PageTask, survey: PageSurvey, ctx: PageContext) -> PageOutcome | None:
    """A born-digital page: its codes (from its pictures), the page itself kept as it is and
    made inert, and its own text and word boxes read from the kept page. None when its text
    does not read as language (then it is read as a scan)."""
    if survey.code_pictures:
        for picture in code_pictures(task.source.path, task.number):
            codes = read_codes(picture)
            cover = read_cover(codes)
            if cover is not None or is_separator(codes, ctx.ingest.separator_code):
                return PageOutcome(task.number, separator=True, cover_mrn=cover)
    return _kept_page(task, survey, ctx, judge=True)


def check_text_layer(
    task: PageTask, survey: PageSurvey, page: PageImage, ctx: PageContext
) -> PageOutcome | None:
    """A page whose text may not be what it shows (invisible, hidden under a picture, or over
    a picture covering the page): kept with that text when it agrees with what the page
    shows, else None (OCR it again)."""
    own = read_page_text(task.source.path, task.number, survey.rotate, ctx.ingest.rasterize_timeout_seconds)
    quality = text_quality(own.text)
    if quality.unmapped > _MAX_UNMAPPED or not own.words or own.width <= 0 or own.height <= 0:
        return None
    if quality.words >= _MIN_WORDS_TO_JUDGE and quality.in_dictionary < _MIN_LAYER_IN_DICTIONARY:
        return None  # plainly garbled: read again without spending a sample on it
    sx, sy = page.image.shape[1] / own.width, page.image.shape[0] / own.height
    layer = [(w.text, w.left * sx, w.top * sy, w.right * sx, w.bottom * sy) for w in own.words]
    agreement = layer_agreement(page.image, round(page.dpi or ctx.ingest.dpi), layer, ctx.ocr)
    log.debug("page %d: text layer agreement %s", task.number, agreement)
    if agreement is None or agreement < _MIN_LAYER_AGREEMENT:
        return None
    return _kept_page(task, survey, ctx, judge=False)


def _kept_page(task: PageTask, survey: PageSurvey, ctx: PageContext, *, judge: bool) -> PageOutcome | None:
    rotate = survey.upright_rotate
    pdf_page = ctx.tmp_dir / f"{task.source.sha256[:24]}-{task.number:05d}.pdf"
    try:
        pdf_page.write_bytes(keep_pdf_page(task.source.path, task.number, rotate))
    except ArchiveError as e:  # qpdf cannot copy it: poppler may still render it
        log.info("page %d: not kept as it is (%s); read by OCR", task.number, e.message)
        return None
    own = _own_text(pdf_page, rotate, survey.skew_degrees, ctx)
    if judge and not _reads_as_language(own):
        pdf_page.unlink(missing_ok=True)
        log.info("page %d: its own text does not read as language; read by OCR", task.number)
        return None
    return PageOutcome(
        task.number,
        skew_degrees=survey.skew_degrees,
        rotation_degrees=rotate,
        text=own.text,
        pdf_page=pdf_page,
        words=file_word_boxes(own),
        text_source="file",
    )


def _own_text(pdf_page: Path, rotate: int, skew: float, ctx: PageContext) -> PageText:
    """The kept page's text; a page whose text runs off level is read from a level copy."""
    timeout = ctx.ingest.rasterize_timeout_seconds
    if abs(skew) < _LEVEL_DEGREES:
        return read_page_text(pdf_page, 1, rotate, timeout)
    level = pdf_page.with_suffix(".level.pdf")
    try:
        level.write_bytes(turned_page_pdf(pdf_page, -skew))
        return turned_words(read_page_text(level, 1, rotate, timeout), skew)
    finally:
        level.unlink(missing_ok=True)


def _reads_as_language(own: PageText) -> bool:
    quality = text_quality(own.text)
    if quality.unmapped > _MAX_UNMAPPED:
        return False
    return quality.words < _MIN_WORDS_TO_JUDGE or quality.in_dictionary >= _MIN_IN_DICTIONARY


def file_word_boxes(own: PageText) -> tuple[WordBox, ...]:
    """A page's own words, in points of the displayed page, as fractions of that page."""
    if own.width <= 0 or own.height <= 0:
        return ()
    return tuple(
        WordBox(
            w.text,
            round(min(max(w.left / own.width, 0.0), 1.0), 5),
            round(min(max(w.top / own.height, 0.0), 1.0), 5),
            round(max(0.0, min(w.right, own.width) - max(w.left, 0.0)) / own.width, 5),
            round(max(0.0, min(w.bottom, own.height) - max(w.top, 0.0)) / own.height, 5),
        )
        for w in own.words
    )
