"""What the deficiency detectors take and give: frozen, slotted, picklable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Kind = Literal[
    "signature_missing",
    "signature_undated",
    "verbal_order_unauthenticated",
    "pages_missing",
    "identifier_missing",
    "consent_after_procedure",
    "document_missing",
]
KINDS: tuple[Kind, ...] = (
    "signature_missing",
    "signature_undated",
    "verbal_order_unauthenticated",
    "pages_missing",
    "identifier_missing",
    "consent_after_procedure",
    "document_missing",
)
Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Box:
    """A region of a page in fractions (0..1) of the archived page, origin top-left."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def as_list(self) -> list[float]:
        return [round(self.left, 4), round(self.top, 4), round(self.width, 4), round(self.height, 4)]


@dataclass(frozen=True, slots=True)
class PageWord:
    """One word of a page with its box (fractions of the page) and tesseract's confidence (None:
    the word came from a digital page's own text)."""

    text: str
    box: Box
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class PageInput:
    number: int  # 1-based within the document
    words: tuple[PageWord, ...]
    text: str
    text_source: str = "ocr"  # "ocr" or "file"
    image: Gray | None = None  # the page as archived, gray (None: not rendered)
    dpi: float = 150.0  # pixels per inch of ``image``


@dataclass(frozen=True, slots=True)
class PatientInfo:
    mrn: str
    last: str
    first: str


@dataclass(frozen=True, slots=True)
class InkReading:
    """What the ink analysis saw in a region: handwriting-like stroke length and extent (inches),
    strokes counted, whether a stamp frame was there, and its verdict."""

    verdict: Literal["signed", "unsigned", "unsure", "stamped"]
    stroke_inches: float
    extent_inches: float
    strokes: int
    ignored: int  # components set aside (specks, blobs such as a staple shadow, lines)

    def describe(self) -> str:
        return (
            f"{self.verdict}: {self.strokes} handwriting-like strokes, {self.stroke_inches:.2f} in of stroke "
            f"over {self.extent_inches:.2f} in; {self.ignored} marks set aside"
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One deficiency: what, where (page and region), what was seen (words and the ink
    reading), and whether the detector is sure."""

    kind: Kind
    detail: str
    page: int | None = None
    region: Box | None = None
    words: str = ""
    sure: bool = True
    document_id: int | None = None
    subject_date: dt.date | None = None  # the date the finding is about (a procedure, an admission)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "page": self.page,
            "region": self.region.as_list() if self.region else None,
            "words": self.words,
            "sure": self.sure,
        }
