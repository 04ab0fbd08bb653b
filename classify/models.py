"""Data passed in and out of the classify stages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Protocol

DocStatus = Literal["filed", "review"]


@dataclass(frozen=True, slots=True)
class PersonName:
    last: str
    first: str
    middle: str = ""


@dataclass(frozen=True, slots=True)
class Patient:
    """One roster (master patient index) entry."""

    mrn: str
    last: str
    first: str
    dob: dt.date
    sex: str = ""
    # Former names and aliases (maiden name, name before a change) from the roster's optional
    # ``aliases`` column: a page name agreeing with one of them agrees with the patient.
    aliases: tuple[PersonName, ...] = ()
    # Other numbers the roster gives the patient: (kind, value), kind one of IDENTIFIER_KINDS
    # (insurance member IDs, account or encounter numbers, previous MRNs after a merge).
    identifiers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Classification:
    doc_type: str  # one of DOC_TYPES
    loinc: str | None
    confidence: float  # in [0, 1]
    scores: tuple[tuple[str, float], ...] = ()  # every type's score, best first


@dataclass(frozen=True, slots=True)
class Identifiers:
    """Patient identifiers found in a document's OCR text."""

    mrns: tuple[str, ...] = ()
    names: tuple[PersonName, ...] = ()
    dobs: tuple[dt.date, ...] = ()
    sexes: tuple[str, ...] = ()  # "M" / "F" as printed under a Sex/Gender label
    # Of ``dobs``, those printed so that day and month cannot have been swapped (month name, ISO).
    fixed_dobs: tuple[dt.date, ...] = ()
    member_ids: tuple[str, ...] = ()  # under Member ID / Subscriber ID / Policy # labels
    accounts: tuple[str, ...] = ()  # under Account # / FIN / Encounter # / Visit # labels
    # What was read and under which kind of label, free of PHI: "name:member", "dob:d.o.b.",
    # "mrn:chart #", and what was set aside as someone else's: "other name:guarantor".
    read: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class PatientMatch:
    mrn: str | None  # set only when the document may be filed to this patient
    score: float | None  # of the best candidate, in [0, 1]
    reason: str  # short, free of PHI: e.g. "mrn+dob agree", "no identifiers", "ambiguous: 2 candidates"
    candidates: tuple[tuple[str, float], ...] = ()  # (mrn, score), best first
    # Which identifiers were read, from which kind of label (``Identifiers.read`` summarized; no PHI).
    read: str = field(default="", compare=False)

    @property
    def filed(self) -> bool:
        return self.mrn is not None

    @property
    def explained(self) -> str:
        """The reason and what it rests on, for the review list: "dob only (read: dob from d.o.b.)"."""
        return f"{self.reason} ({self.read})"[:256] if self.read else self.reason


class Roster(Protocol):
    """Read access to the master patient index (the archive database implements it)."""

    def by_mrn(self, mrn: str) -> Patient | None: ...

    def by_mrns(self, mrns: tuple[str, ...]) -> list[Patient]:
        """Patients whose MRN is one of ``mrns``, compared without leading zeros."""
        ...

    def candidates(
        self, last_names: tuple[str, ...], dobs: tuple[dt.date, ...], *, near_dobs: tuple[dt.date, ...] = ()
    ) -> list[Patient]:
        """Blocking, never the whole roster: patients whose DOB is one of ``dobs`` (any name), and
        patients whose last name sounds like one given, born on one of ``near_dobs`` when some
        are given (on any date otherwise, up to a limit)."""
        ...

    def by_identifier(self, kind: str, value: str) -> list[Patient]:
        """Patients the roster's optional identifiers give ``value`` to: ``kind`` is one of
        IDENTIFIER_KINDS; compared as MRNs are (no white space or leading zeros)."""
        ...


# Kinds of the roster's other identifiers (``Patient.identifiers``, ``Roster.by_identifier``).
IDENTIFIER_KINDS = ("member_id", "account", "previous_mrn")
