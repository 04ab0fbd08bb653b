"""Data passed in and out of the ingest stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

SourceKind = Literal["pdf", "tiff", "png", "jpeg"]
GrayImage = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A scan file that passed inspection: its type is known and it has pages."""

    path: Path
    name: str
    sha256: str
    size: int
    kind: SourceKind
    page_count: int


@dataclass(frozen=True, slots=True)
class PageImage:
    """One page, as an 8-bit grayscale image."""

    number: int  # 1-based within the source file
    image: GrayImage
    dpi: float | None  # None when the file recorded no resolution


@dataclass(frozen=True, slots=True)
class PageTask:
    """One page of one source, for a worker process."""

    source: SourceFile
    number: int  # 1-based
