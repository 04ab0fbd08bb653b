"""Drawing synthetic paperwork as scanned pages, for the training corpus and the benchmark.

A document is a sequence of :class:`Block` (letterhead, title, field, paragraph, table
row...). :func:`render_pages` lays the blocks out on letter-size pages with a chosen
:class:`Layout` (font, size, title placement, label column, rules) and draws them with
PIL; :func:`scan_like` then turns, blurs and speckles a page like a scanner or a fax.

Fonts are the Debian ``fonts-dejavu-core`` and ``fonts-liberation`` TrueType files; only
building the corpus (``make model``) and the benchmark draw pages, never the pipeline.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from chartclerk.errors import MissingDependencyError

__all__ = ["FONTS", "Block", "BlockStyle", "Layout", "random_layout", "render_pages", "scan_like", "text_of"]

GrayImage = npt.NDArray[np.uint8]
BlockStyle = Literal["letterhead", "address", "title", "banner", "heading", "para", "field", "row", "blank"]

_TT: Final = Path("/usr/share/fonts/truetype")
FONTS: Final[dict[str, tuple[Path, Path]]] = {
    "DejaVuSans": (_TT / "dejavu/DejaVuSans.ttf", _TT / "dejavu/DejaVuSans-Bold.ttf"),
    "DejaVuSerif": (_TT / "dejavu/DejaVuSerif.ttf", _TT / "dejavu/DejaVuSerif-Bold.ttf"),
    "LiberationSans": (
        _TT / "liberation/LiberationSans-Regular.ttf",
        _TT / "liberation/LiberationSans-Bold.ttf",
    ),
    "LiberationSerif": (
        _TT / "liberation/LiberationSerif-Regular.ttf",
        _TT / "liberation/LiberationSerif-Bold.ttf",
    ),
    "LiberationMono": (
        _TT / "liberation/LiberationMono-Regular.ttf",
        _TT / "liberation/LiberationMono-Bold.ttf",
    ),
}


@dataclass(frozen=True, slots=True)
class Block:
    """One logical piece of a document. ``cells`` has one string, except table rows
    (drawn at tab stops) and fields (label, value)."""

    style: BlockStyle
    cells: tuple[str, ...]

    @property
    def text(self) -> str:
        if self.style == "field" and len(self.cells) == 2:
            return " ".join(f"{self.cells[0]}: {self.cells[1]}".split())
        return " ".join(" ".join(c for c in self.cells if c).split())


@dataclass(frozen=True, slots=True)
class Layout:
    font: str = "DejaVuSans"
    point_size: float = 11.0
    margin_inches: float = 0.8
    title_centered: bool = True
    letterhead_centered: bool = False
    field_column: float = 0.0  # 0: "Label: value" inline; else the value starts at this fraction of the width
    rule_under_letterhead: bool = True
    uppercase_headings: bool = False
    line_spacing: float = 1.4


def random_layout(rng: random.Random) -> Layout:
    return Layout(
        font=rng.choice(sorted(FONTS)),
        point_size=rng.choice((9.5, 10.0, 10.5, 11.0, 12.0)),
        margin_inches=rng.choice((0.6, 0.75, 0.9, 1.0)),
        title_centered=rng.random() < 0.6,
        letterhead_centered=rng.random() < 0.4,
        field_column=rng.choice((0.0, 0.0, 0.3, 0.35, 0.4)),
        rule_under_letterhead=rng.random() < 0.6,
        uppercase_headings=rng.random() < 0.4,
        line_spacing=rng.choice((1.3, 1.4, 1.5)),
    )


def text_of(blocks: Sequence[Block]) -> str:
    """The document's text as a perfect OCR would read it: one block per line."""
    return "\n".join(b.text for b in blocks if b.style != "blank")


@dataclass(frozen=True, slots=True)
class _Fonts:
    regular: ImageFont.FreeTypeFont
    bold: ImageFont.FreeTypeFont
    title: ImageFont.FreeTypeFont
    letterhead: ImageFont.FreeTypeFont
    size_px: int


@cache
def _fonts(name: str, point_size: float, dpi: int) -> _Fonts:
    regular, bold = FONTS[name]
    if not regular.is_file() or not bold.is_file():
        raise MissingDependencyError(
            f"font {regular} is missing (Debian: fonts-dejavu-core fonts-liberation)"
        )
    size = round(point_size * dpi / 72)
    return _Fonts(
        regular=ImageFont.truetype(str(regular), size),
        bold=ImageFont.truetype(str(bold), size),
        title=ImageFont.truetype(str(bold), round(size * 1.45)),
        letterhead=ImageFont.truetype(str(bold), round(size * 1.2)),
        size_px=size,
    )


_TABS: Final = (0.0, 0.34, 0.52, 0.7)


@dataclass(frozen=True, slots=True)
class _Line:
    style: BlockStyle
    cells: tuple[str, ...]
    height: int


def _font(fonts: _Fonts, style: BlockStyle) -> ImageFont.FreeTypeFont:
    if style == "title":
        return fonts.title
    if style == "letterhead":
        return fonts.letterhead
    if style in ("heading", "banner"):
        return fonts.bold
    return fonts.regular


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    if not text or font.getlength(text) <= width:
        return [text]
    limit = max(8, int(width / (font.getlength(text) / len(text))))
    while limit > 8:
        parts = textwrap.wrap(text, limit)
        if all(font.getlength(p) <= width for p in parts):
            return parts
        limit -= 2
    return textwrap.wrap(text, limit)


def _lines(blocks: Sequence[Block], layout: Layout, fonts: _Fonts, width: float) -> list[_Line]:
    spacing = {"title": 2.2, "letterhead": 1.6, "blank": 0.7}
    lines: list[_Line] = []
    for block in blocks:
        height = round(fonts.size_px * spacing.get(block.style, layout.line_spacing))
        if block.style == "row":
            lines.append(_Line("row", block.cells, height))
            continue
        if block.style == "field" and layout.field_column > 0 and len(block.cells) == 2:
            value_width = width * (1 - layout.field_column)
            parts = _wrap(block.cells[1], fonts.regular, value_width) or [""]
            lines.append(_Line("field", (block.cells[0] + ":", parts[0]), height))
            lines.extend(_Line("field", ("", part), height) for part in parts[1:])
            continue
        if block.style == "field":
            text = f"{block.cells[0]}: {block.cells[1]}" if len(block.cells) == 2 else block.cells[0]
        else:
            text = block.cells[0]
        if block.style == "heading" and layout.uppercase_headings:
            text = text.upper()
        for part in _wrap(text, _font(fonts, block.style), width):
            lines.append(_Line(block.style, (part,), height))
    return lines


def render_pages(blocks: Sequence[Block], layout: Layout, dpi: int) -> list[GrayImage]:
    """Letter-size pages (uint8, dark on white) holding ``blocks``; a new page starts when one is full."""
    fonts = _fonts(layout.font, layout.point_size, dpi)
    size = (round(8.5 * dpi), round(11 * dpi))
    margin = round(layout.margin_inches * dpi)
    width = size[0] - 2 * margin
    pages: list[list[_Line]] = [[]]
    used = 0
    for line in _lines(blocks, layout, fonts, width):
        if used + line.height > size[1] - 2 * margin and pages[-1]:
            pages.append([])
            used = 0
        if line.style == "blank" and not pages[-1]:
            continue
        pages[-1].append(line)
        used += line.height
    return [_draw(lines, layout, fonts, size, margin) for lines in pages]


def _draw(
    lines: Sequence[_Line], layout: Layout, fonts: _Fonts, size: tuple[int, int], margin: int
) -> GrayImage:
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    width = size[0] - 2 * margin
    y = margin
    for line in lines:
        font = _font(fonts, line.style)
        centered = (line.style == "title" and layout.title_centered) or (
            line.style in ("letterhead", "address") and layout.letterhead_centered
        )
        if line.style == "row":
            for tab, cell in zip(_TABS, line.cells, strict=False):
                draw.text((margin + tab * width, y), cell, fill=0, font=font)
        elif line.style == "field" and len(line.cells) == 2:
            draw.text((margin, y), line.cells[0], fill=0, font=fonts.bold if line.cells[0] else font)
            draw.text((margin + layout.field_column * width, y), line.cells[1], fill=0, font=font)
        elif centered:
            draw.text(
                (margin + (width - font.getlength(line.cells[0])) / 2, y), line.cells[0], fill=0, font=font
            )
        else:
            draw.text((margin, y), line.cells[0], fill=0, font=font)
        if line.style == "address" and layout.rule_under_letterhead:
            rule_y = y + round(fonts.size_px * 1.3)
            draw.line((margin, rule_y, size[0] - margin, rule_y), fill=0, width=max(1, fonts.size_px // 12))
        y += line.height
    return np.asarray(page, dtype=np.uint8).copy()


def scan_like(
    image: GrayImage,
    *,
    skew_degrees: float = 0.0,
    quarter_turns_ccw: int = 0,
    blur: int = 0,
    noise: float = 0.0,
    seed: int = 0,
) -> GrayImage:
    """A scanner's copy of ``image``: turned counter-clockwise by a quarter turns plus
    ``skew_degrees``, gaussian-blurred with kernel ``blur`` (0: none), and speckled on a
    ``noise`` fraction of the pixels."""
    out = np.rot90(image, quarter_turns_ccw % 4)
    if skew_degrees:
        rotated = Image.fromarray(np.ascontiguousarray(out)).rotate(
            skew_degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255
        )
        out = np.asarray(rotated, dtype=np.uint8)
    if blur > 0:
        k = blur if blur % 2 else blur + 1
        out = np.asarray(cv2.GaussianBlur(out, (k, k), 0), dtype=np.uint8)
    if noise > 0:
        rng = np.random.default_rng(seed)
        hit = rng.random(out.shape) < noise
        out = np.where(hit, np.where(rng.random(out.shape) < 0.5, 0, 255).astype(np.uint8), out)
    return np.ascontiguousarray(out, dtype=np.uint8)
