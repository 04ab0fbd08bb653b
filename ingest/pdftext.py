"""A PDF page's own text with its word boxes, as poppler's ``pdftotext -bbox-layout`` reads it.

The only module that runs ``pdftotext``. Every call has a time limit; a missing program is a
:class:`MissingDependencyError`, a page poppler cannot read an :class:`InputFileError`.
Words come in the order the page draws them (``-raw``), in points of the page as a viewer
shows it (after its /Rotate), origin top left.

Why the drawing order and not poppler's layout analysis (``-bbox-layout``): a page that
prints "Label: value" rows, a value column or a table is written row by row, and that is the
text the file holds; the layout analysis regroups such pages into columns (every label, then
every value), merges lines of two text columns and, where cells touch, glues words together.
On the held-out benchmark (bench/digital.py) it left 8 of 24 pages inexact (character error
rate 0.043); the drawing order left none.
"""

from __future__ import annotations

import logging
import math
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
    and an empty line where the page leaves more than a line's height blank (the shape
    tesseract's text has)."""

    width: float  # points, of the page as displayed (after /Rotate)
    height: float
    words: tuple[TextWord, ...]
    text: str


def read_page_text(path: Path, number: int, rotate: int, timeout_seconds: int) -> PageText:
    """Page ``number`` (1-based) of the PDF at ``path``; ``rotate`` is its /Rotate (poppler
    places words on the turned page but reports the unturned page size)."""
    command = ["pdftotext", "-q", "-raw", "-bbox", "-enc", "UTF-8", "-f", str(number), "-l", str(number)]
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
    return parse_bbox(done.stdout, rotate)


def parse_bbox(xhtml: bytes, rotate: int = 0) -> PageText:
    """The first page of ``pdftotext -bbox`` output: its words, then its lines rebuilt from
    them (a word starts a new line when it is not beside the previous one, on its height)."""
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
    words = tuple(
        TextWord(
            (word.text or "").strip(),
            float(word.get("xMin", "0")),
            float(word.get("yMin", "0")),
            float(word.get("xMax", "0")),
            float(word.get("yMax", "0")),
        )
        for word in page.iter(f"{_NS}word")
        if (word.text or "").strip()
    )
    return PageText(width, height, words, _text(words))


def _text(words: tuple[TextWord, ...]) -> str:
    lines: list[list[TextWord]] = []
    for word in words:
        line = lines[-1] if lines else None
        if line is not None and _beside(line[-1], word):
            line.append(word)
        else:
            lines.append([word])
    parts: list[str] = []
    for i, line in enumerate(lines):
        if i:
            last, first = lines[i - 1][0], line[0]
            size = max(last.bottom - last.top, first.bottom - first.top)
            parts.append("\n\n" if first.top - last.bottom > size else "\n")
        parts.append(" ".join(w.text for w in line))
    return "".join(parts)


def _beside(previous: TextWord, word: TextWord) -> bool:
    """``word`` goes on with ``previous``'s line: at about its height, and to its right."""
    size = max(previous.bottom - previous.top, word.bottom - word.top, 0.1)
    middle = (previous.top + previous.bottom) / 2 - (word.top + word.bottom) / 2
    return abs(middle) <= size / 2 and word.left >= previous.left


def turned_words(text: PageText, degrees: float) -> PageText:
    """``text`` read from a copy of its page turned ``-degrees`` (made level), with each word's
    box turned back ``degrees`` counter-clockwise about the page's middle: the box that holds
    the word where the page draws it."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    cx, cy = text.width / 2, text.height / 2

    def back(word: TextWord) -> TextWord:
        xs, ys = [], []
        for x, y in (
            (word.left, word.top),
            (word.right, word.top),
            (word.left, word.bottom),
            (word.right, word.bottom),
        ):
            dx, dy = x - cx, cy - y  # y up
            xs.append(cx + c * dx - s * dy)
            ys.append(cy - (s * dx + c * dy))
        return TextWord(word.text, min(xs), min(ys), max(xs), max(ys))

    return PageText(text.width, text.height, tuple(back(w) for w in text.words), text.text)
