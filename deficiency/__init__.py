"""Chart deficiencies found on the scans themselves: unsigned, undated, unauthenticated,
incomplete (pages, identifiers) documents, and documents a chart is missing."""

from chartclerk.deficiency.detect import SignatureArea, find_document_deficiencies, find_signature_areas
from chartclerk.deficiency.ink import read_ink
from chartclerk.deficiency.models import (
    KINDS,
    Box,
    Finding,
    InkReading,
    Kind,
    PageInput,
    PageWord,
    PatientInfo,
)

__all__ = [
    "KINDS",
    "Box",
    "Finding",
    "InkReading",
    "Kind",
    "PageInput",
    "PageWord",
    "PatientInfo",
    "SignatureArea",
    "find_document_deficiencies",
    "find_signature_areas",
    "read_ink",
]
