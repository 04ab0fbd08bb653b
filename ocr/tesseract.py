"""The only module that runs tesseract.

Every call is single-threaded (``OMP_THREAD_LIMIT=1``: with OpenMP threads
tesseract measured 6.5 times slower on this hardware), has a timeout, and
turns tesseract's failures into typed errors. An empty page is a neutral
result, not an error.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import cv2
import pytesseract
from pytesseract import TesseractError, TesseractNotFoundError

from chartclerk.errors import MissingDependencyError, OcrError
from chartclerk.ingest.models import GrayImage
from chartclerk.ocr.models import OcrResult, Orientation, Word
from chartclerk.settings import OcrSettings

log = logging.getLogger(__name__)

_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.MULTILINE)
_ORIENT_CONF = re.compile(r"^Orientation confidence:\s*([\d.]+)", re.MULTILINE)


def _single_threaded() -> None:
    # pytesseract passes this process's environment to tesseract.
    os.environ["OMP_THREAD_LIMIT"] = "1"


@cache
def tesseract_version() -> str:
    try:
        return str(pytesseract.get_tesseract_version())
    except TesseractNotFoundError as e:
        raise MissingDependencyError("tesseract is not installed (Debian: tesseract-ocr)") from e


def ocr_image(image: GrayImage, dpi: int, settings: OcrSettings) -> OcrResult:
    """One tesseract run over an upright page: text, words with boxes and
    confidences, and the text-only PDF layer, all from the same pass."""
    with _page_on_disk(image) as (image_path, base):
        config = f"--psm 3 --dpi {int(dpi)} -c textonly_pdf=1 txt tsv pdf"
        _run(image_path, str(base), config, settings)
        try:
            text = (base.with_suffix(".txt")).read_text(encoding="utf-8", errors="replace")
            tsv = (base.with_suffix(".tsv")).read_text(encoding="utf-8", errors="replace")
            pdf = (base.with_suffix(".pdf")).read_bytes()
        except OSError as e:
            raise OcrError(f"tesseract wrote no output: {e.strerror}") from e
    words = parse_tsv(tsv)
    mean = sum(w.confidence for w in words) / len(words) if words else None
    return OcrResult(text=text.strip(), mean_confidence=mean, words=words, text_layer_pdf=pdf)


def detect_orientation(image: GrayImage, dpi: int, settings: OcrSettings) -> Orientation | None:
    """Tesseract's orientation and script detection (OSD). None when the page has
    too little text to tell (a neutral outcome, not an error)."""
    with _page_on_disk(image) as (image_path, base):
        try:
            _run(
                image_path,
                str(base),
                f"--psm 0 --dpi {int(dpi)} -c min_characters_to_try=20",
                settings,
                lang="osd",
            )
        except OcrError as e:
            if "Too few characters" in e.message or "0 dpi" in e.message:
                return None
            raise
        try:
            report = base.with_suffix(".osd").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    rotate, conf = _ROTATE.search(report), _ORIENT_CONF.search(report)
    if not rotate or not conf:
        return None
    return Orientation(rotate_clockwise=int(rotate.group(1)) % 360, confidence=float(conf.group(1)))


@contextmanager
def _page_on_disk(image: GrayImage) -> Iterator[tuple[str, Path]]:
    """The page as an uncompressed PGM (no time spent on PNG deflate) in a private
    temporary folder, and the output base name tesseract writes beside it."""
    tesseract_version()
    _single_threaded()
    with tempfile.TemporaryDirectory(prefix="chartclerk-ocr-") as tmp:
        image_path = Path(tmp) / "page.pgm"
        if not cv2.imwrite(str(image_path), image):
            raise OcrError("cannot write the page image for tesseract")
        yield str(image_path), Path(tmp) / "out"


def _run(
    input_png: str, output_base: str, config: str, settings: OcrSettings, lang: str | None = None
) -> None:
    try:
        pytesseract.pytesseract.run_tesseract(
            input_png,
            output_base,
            extension="",
            lang=lang or settings.language,
            config=config,
            timeout=settings.timeout_seconds,
        )
    except TesseractNotFoundError as e:
        raise MissingDependencyError("tesseract is not installed (Debian: tesseract-ocr)") from e
    except TesseractError as e:
        message = " ".join(str(e.message).split())
        log.debug("tesseract failed (status %s): %s", e.status, message)
        raise OcrError(f"tesseract failed: {message[:200]}") from e
    except RuntimeError as e:
        if "timeout" in str(e).lower():
            raise OcrError(f"tesseract took over {settings.timeout_seconds} s on a page") from e
        raise


def parse_tsv(tsv: str) -> tuple[Word, ...]:
    """Words (level 5 rows with text) from tesseract's TSV output."""
    words: list[Word] = []
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        try:
            conf = float(row["conf"])
            box = (int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
        except (KeyError, TypeError, ValueError):
            continue
        if conf < 0:
            continue
        words.append(Word(text, conf, *box))
    return tuple(words)
