"""Document typing, patient identifier extraction and patient matching."""

from __future__ import annotations

from chartclerk.classify.doctype import DOC_TYPES, LOINC, classify_document, warm_up_classifier
from chartclerk.classify.identifiers import extract_identifiers
from chartclerk.classify.matching import match_patient
from chartclerk.classify.models import (
    Classification,
    DocStatus,
    Identifiers,
    Patient,
    PatientMatch,
    PersonName,
    Roster,
)
from chartclerk.classify.roster import (
    MemoryRoster,
    RosterImport,
    blocking_key,
    normalize_mrn,
    normalize_name,
    read_roster_csv,
)

__all__ = [
    "DOC_TYPES",
    "LOINC",
    "Classification",
    "DocStatus",
    "Identifiers",
    "MemoryRoster",
    "Patient",
    "PatientMatch",
    "PersonName",
    "Roster",
    "RosterImport",
    "blocking_key",
    "classify_document",
    "extract_identifiers",
    "match_patient",
    "normalize_mrn",
    "normalize_name",
    "read_roster_csv",
    "warm_up_classifier",
]
