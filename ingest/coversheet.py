"""Patient cover sheets: printed by ``chartclerk coversheet``, read back from scanned batches.

A cover sheet carries the code ``MRN:<mrn>`` twice (a QR code, and a Code 128 barcode in case
the QR is damaged) with the patient's name, DOB and MRN in clear text for the clerk. In a
scanned batch it ends the document before it and files every following document to that
patient until the next cover sheet (see ``chartclerk.ingest.batches``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from chartclerk.classify.models import Patient
from chartclerk.ingest.models import GrayImage

log = logging.getLogger(__name__)

COVER_PREFIX: Final = "MRN:"
UNREADABLE_COVER: Final = ""  # the cover_mrn of a sheet whose codes name different patients
_CODE_RE = re.compile(r"MRN:\s*(?P<mrn>[A-Za-z0-9][A-Za-z0-9 \-]{0,63})", re.IGNORECASE)
_FONT_DIR: Final = Path("/usr/share/fonts/truetype/dejavu")
_LETTER_IN: Final = (8.5, 11.0)


@dataclass(frozen=True, slots=True)
class CoverSheet:
    """What a cover sheet prints: the code, and the clear text a clerk checks it against."""

    mrn: str
    name: str  # "LAST, First"
    dob: str  # as printed, e.g. "01/02/1960 (1960-01-02)"


def cover_code(mrn: str) -> str:
    """The text encoded on a cover sheet for ``mrn``."""
    return f"{COVER_PREFIX}{mrn.strip()}"


def read_cover(codes: tuple[str, ...]) -> str | None:
    """The MRN of the cover sheet whose codes these are; None when no code is ``MRN:<mrn>``;
    ``UNREADABLE_COVER`` when the codes name different MRNs (the sheet files nothing)."""
    found: dict[str, str] = {}
    for code in codes:
        match = _CODE_RE.fullmatch(code.strip())
        if match is not None:
            mrn = match["mrn"].strip()
            found.setdefault("".join(mrn.split()).upper().lstrip("0") or "0", mrn)
    if not found:
        return None
    if len(found) > 1:
        log.warning("cover sheet with %d different MRN codes: its documents go to review", len(found))
        return UNREADABLE_COVER
    return next(iter(found.values()))


def render_cover_sheet(sheet: CoverSheet, dpi: int = 300) -> GrayImage:
    """A letter page (8-bit grayscale at ``dpi``): title, QR code, clear text, Code 128 barcode."""
    width, height = round(_LETTER_IN[0] * dpi), round(_LETTER_IN[1] * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    title, text, small = _font(True, 30, dpi), _font(False, 20, dpi), _font(False, 11, dpi)

    def centered(line: str, y: float, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
        draw.text(((width - font.getlength(line)) / 2, y), line, fill=0, font=font)

    centered("PATIENT COVER SHEET", 0.9 * dpi, title)
    qr = _symbol(cover_code(sheet.mrn), zxingcpp.BarcodeFormat.QRCode, module=max(4, round(0.06 * dpi)))
    top = round(1.8 * dpi)
    page.paste(Image.fromarray(qr), ((width - qr.shape[1]) // 2, top))
    y = top + qr.shape[0] + 0.4 * dpi
    for line in (f"Name: {sheet.name}", f"DOB: {sheet.dob}", f"MRN: {sheet.mrn}"):
        centered(line, y, text)
        y += 0.45 * dpi
    bars = _symbol(cover_code(sheet.mrn), zxingcpp.BarcodeFormat.Code128, module=max(2, round(0.02 * dpi)))
    bars = np.tile(bars[bars.shape[0] // 2], (round(0.8 * dpi), 1))
    if bars.shape[1] <= width - dpi:
        page.paste(Image.fromarray(bars), ((width - bars.shape[1]) // 2, round(y + 0.3 * dpi)))
    for i, line in enumerate(
        (
            "Place this sheet on top of the patient's documents in the scanner.",
            "Every document after it is filed to this patient, up to the next cover sheet.",
        )
    ):
        centered(line, height - (1.4 - 0.25 * i) * dpi, small)
    return np.asarray(page, dtype=np.uint8).copy()


def _symbol(content: str, kind: zxingcpp.BarcodeFormat, module: int) -> GrayImage:
    barcode = zxingcpp.create_barcode(content, kind)
    modules = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1), dtype=np.uint8)
    if kind == zxingcpp.BarcodeFormat.QRCode:
        return np.kron(modules, np.ones((module, module), dtype=np.uint8))
    return np.repeat(modules, module, axis=1)


def _font(bold: bool, points: float, dpi: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (Debian fonts-dejavu-core), else Pillow's own font."""
    path = _FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    size = round(points * dpi / 72)
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        log.debug("%s not found; using Pillow's default font", path.name)
        return ImageFont.load_default(size=size)


def cover_sheet_for(patient: Patient) -> CoverSheet:
    """The cover sheet of a roster patient."""
    dob = f"{patient.dob:%m/%d/%Y} ({patient.dob.isoformat()})"
    return CoverSheet(mrn=patient.mrn, name=f"{patient.last.upper()}, {patient.first}", dob=dob)
