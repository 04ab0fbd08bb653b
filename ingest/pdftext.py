"""A PDF page's own text with its word boxes, as poppler's ``pdftotext -bbox-layout`` reads it.

The only module that runs ``pdftotext``. Every call has a time limit; a missing program is a
:class:`MissingDependencyError`, a page poppler cannot read an :class:`InputFileError`.
Words come in poppler's reading order (flows, blocks, lines), in points of the page as a
viewer shows it (after its /Rotate), origin top left.
"""

from __future__ import annotations

import logging
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from chartclerk.errors import InputFileError, MissingDependencyError

log = logging.getLogger(__name__)

_NS = "{http://www.w3.org/1999/xhtml}"
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # poppler passes them through; XML refuses them


@dataclass(frozen=True, slots=True)
class TextWord:
    text: str
    left: float  # points from the left edge of the displayed page
    top: float
    right: float
    bottom: float


@dataclass(frozen=True, slots=True)
class PageText:
    """One page's words and its text: words of a line joined by a space, lines by a newline,
    blocks by an empty line (the shape tesseract's text has)."""

    width: float  # points, of the page as displayed (after /Rotate)
    height: float
    words: tuple[TextWord, ...]
    text: str


def read_page_text(path: Path, number: int, rotate: int, timeout_seconds: int) -> PageText:
    """Page ``number`` (1-based) of the PDF at ``path``; ``rotate`` is its /Rotate (poppler
    places words on the turned page but reports the unturned page size)."""
    command = ["pdftotext", "-q", "-bbox-layout", "-enc", "UTF-8", "-f", str(number), "-l", str(number)]
    try:
        done = subprocess.run(
            [*command, str(path), "-"],
            capture_output=True,
            timeout=timeout_seconds,
            check=False,
        )
    except FileNotFoundError as e:
        raise MissingDependencyError("poppler-utils (pdftotext) is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise InputFileError(f"reading page {number}'s text took over {timeout_seconds} s") from e
    if done.returncode != 0:
        log.debug("pdftotext exited %d: %s", done.returncode, done.stderr[:200])
        raise InputFileError(f"corrupt PDF: page {number}'s text cannot be read")
    return parse_bbox_layout(done.stdout, rotate)


def parse_bbox_layout(xhtml: bytes, rotate: int = 0) -> PageText:
    """The first page of ``pdftotext -bbox-layout`` output."""
    try:
        root = ET.fromstring(_CONTROL.sub(b" ", xhtml))
    except ET.ParseError as e:
        raise InputFileError("corrupt PDF: unreadable text layout") from e
    page = root.find(f".//{_NS}page")
    if page is None:
        raise InputFileError("corrupt PDF: no page in the text layout")
    width, height = float(page.get("width", "0")), float(page.get("height", "0"))
    if rotate % 180 == 90:
        width, height = height, width
    words: list[TextWord] = []
    blocks: list[str] = []
    for block in page.iter(f"{_NS}block"):
        lines = []
        for line in block.iter(f"{_NS}line"):
            texts = []
            for word in line.iter(f"{_NS}word"):
                text = (word.text or "").strip()
                if not text:
                    continue
                texts.append(text)
                words.append(
                    TextWord(
                        text,
                        float(word.get("xMin", "0")),
                        float(word.get("yMin", "0")),
                        float(word.get("xMax", "0")),
                        float(word.get("yMax", "0")),
                    )
                )
            if texts:
                lines.append(" ".join(texts))
        if lines:
            blocks.append("\n".join(lines))
    return PageText(width, height, tuple(words), "\n\n".join(blocks))
