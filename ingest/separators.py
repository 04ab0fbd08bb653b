"""Barcodes on pages: separator sheets between documents of one scanned batch."""

from __future__ import annotations

import logging

import zxingcpp

from chartclerk.ingest.models import GrayImage
from chartclerk.ingest.scaling import halved

log = logging.getLogger(__name__)

_FORMATS = zxingcpp.barcode_formats_from_str("QRCode,Code128,Code39")
_MAX_SIDE = 2400  # halved until under this: about 150 dpi on a letter page, plenty for sheet-sized codes


def read_codes(image: GrayImage) -> tuple[str, ...]:
    """Texts of the QR codes and Code 128/39 barcodes on a page, in reading order."""
    small, _ = halved(image, _MAX_SIDE)
    found = zxingcpp.read_barcodes(small, formats=_FORMATS, try_rotate=True, try_downscale=True)
    return tuple(r.text.strip() for r in found if r.valid and r.text.strip())


def is_separator(codes: tuple[str, ...], separator_code: str) -> bool:
    return any(code.upper() == separator_code.upper() for code in codes)
