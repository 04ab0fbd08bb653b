"""The master patient index: CSV import, name/MRN normalization, blocking keys,
and an in-memory roster with the same lookup semantics as the database one.

Normalization (shared with the archive database, which stores its results):

* ``normalize_mrn``: drop all white space, upper-case, strip leading zeros
  ("0012345" -> "12345"; all zeros -> "0"). Hyphens are kept: "123-45" is not "12345".
* ``normalize_name``: accents removed, upper case, apostrophes and periods dropped,
  any other non-letter -> one space ("O'Brien-Smith" -> "OBRIEN SMITH").
* ``blocking_key``: American Soundex (letter + 3 digits) of the normalized last
  name with spaces removed ("Smith" -> "S530", "De la Cruz" -> "D426"); "" when
  the name has no letters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chartclerk.classify.models import Patient, PersonName
from chartclerk.errors import InputFileError

if TYPE_CHECKING:
    from _csv import Reader

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("mrn", "last", "first", "dob")
OPTIONAL_COLUMNS = ("sex", "member_ids", "accounts", "previous_mrns", "aliases")
# Other spellings of the optional identifier columns' headers.
COLUMN_ALIASES = {
    "member_id": "member_ids", "insurance_id": "member_ids", "insurance_ids": "member_ids",
    "account": "accounts", "account_number": "accounts", "account_numbers": "accounts",
    "encounter": "accounts", "encounters": "accounts",
    "previous_mrn": "previous_mrns", "prior_mrn": "previous_mrns", "prior_mrns": "previous_mrns",
    "merged_mrns": "previous_mrns", "old_mrns": "previous_mrns",
    "alias": "aliases", "former_name": "aliases", "former_names": "aliases", "other_names": "aliases",
}  # fmt: skip
_ID_COLUMNS = {"member_ids": "member_id", "accounts": "account", "previous_mrns": "previous_mrn"}
_MULTI_SEPARATOR = re.compile(r"[;|]")
_MRN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]*")

_SOUNDEX_CODES = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}


@dataclass(frozen=True, slots=True)
class RosterImport:
    patients: tuple[Patient, ...]
    errors: tuple[str, ...]  # one line each, e.g. "line 7: bad dob '1960-13-01'"


def normalize_mrn(mrn: str) -> str:
    """The form MRNs are compared in (as the archive database stores them): no white space,
    upper case, no leading zeros ("" for an empty MRN, "0" for all zeros)."""
    compact = "".join(mrn.split()).upper()
    if not compact:
        return ""
    return compact.lstrip("0") or "0"


def parse_alias(text: str) -> PersonName | None:
    """A former name or alias as the roster gives it, "LAST, FIRST [MIDDLE]" or "First [Middle]
    Last", normalized as names are; None without both a last and a first name."""
    if "," in text:
        last, _, rest = text.partition(",")
        words = normalize_name(rest).split()
        last = normalize_name(last)
    else:
        words = normalize_name(text).split()
        last = words.pop() if len(words) > 1 else ""
    if not last or not words:
        return None
    return PersonName(last=last, first=words[0], middle=" ".join(words[1:]))


def alias_text(name: PersonName) -> str:
    """The stored form of an alias: "LAST, FIRST MIDDLE" (``parse_alias`` reads it back)."""
    return f"{name.last}, {' '.join(w for w in (name.first, name.middle) if w)}"


def normalize_name(name: str) -> str:
    """Upper case letters and single spaces only (accents, punctuation removed)."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    letters = re.sub(r"['\u2019`.]", "", letters.upper())
    return " ".join(re.sub(r"[^A-Z]+", " ", letters).split())


def soundex(word: str) -> str:
    """American Soundex of the letters A-Z in ``word`` ("" when there are none)."""
    letters = [c for c in word.upper() if "A" <= c <= "Z"]
    if not letters:
        return ""
    code = letters[0]
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX_CODES.get(c, "")
        if digit and digit != previous:
            code += digit
            if len(code) == 4:
                break
        if c not in "HW":  # H and W do not separate letters with the same code
            previous = digit
    return code.ljust(4, "0")


def blocking_key(last: str) -> str:
    """Deterministic phonetic key of a last name: Soundex of ``normalize_name(last)``."""
    return soundex(normalize_name(last).replace(" ", ""))


class MemoryRoster:
    """A roster held in memory (tests, small offices). The first patient wins on duplicate MRNs."""

    __slots__ = ("_by_dob", "_by_id", "_by_key", "_by_mrn")

    def __init__(self, patients: Iterable[Patient]) -> None:
        self._by_mrn: dict[str, Patient] = {}
        self._by_key: dict[str, list[Patient]] = {}
        self._by_dob: dict[dt.date, list[Patient]] = {}
        self._by_id: dict[tuple[str, str], list[Patient]] = {}
        for patient in patients:
            key = normalize_mrn(patient.mrn)
            if key in self._by_mrn:
                continue
            self._by_mrn[key] = patient
            self._by_key.setdefault(blocking_key(patient.last), []).append(patient)
            self._by_dob.setdefault(patient.dob, []).append(patient)
            for kind, value in dict.fromkeys((k, normalize_mrn(v)) for k, v in patient.identifiers):
                self._by_id.setdefault((kind, value), []).append(patient)

    def __len__(self) -> int:
        return len(self._by_mrn)

    def by_mrn(self, mrn: str) -> Patient | None:
        return self._by_mrn.get(normalize_mrn(mrn))

    def by_mrns(self, mrns: tuple[str, ...]) -> list[Patient]:
        found = (self._by_mrn.get(key) for key in sorted({normalize_mrn(m) for m in mrns}))
        return [p for p in found if p is not None]

    def by_identifier(self, kind: str, value: str) -> list[Patient]:
        """Patients the roster gives this member ID, account number or previous MRN (``kind``)."""
        return list(self._by_id.get((kind, normalize_mrn(value)), ()))

    def candidates(
        self, last_names: tuple[str, ...], dobs: tuple[dt.date, ...], *, near_dobs: tuple[dt.date, ...] = ()
    ) -> list[Patient]:
        """Patients whose DOB is one given, and those whose last name has the same blocking key as
        one given (only those born on one of ``near_dobs`` when some are given)."""
        found: dict[str, Patient] = {}
        near = frozenset(near_dobs)
        for key in dict.fromkeys(blocking_key(name) for name in last_names):
            if key:
                for patient in self._by_key.get(key, ()):
                    if not near or patient.dob in near:
                        found.setdefault(normalize_mrn(patient.mrn), patient)
        for dob in dict.fromkeys(dobs):
            for patient in self._by_dob.get(dob, ()):
                found.setdefault(normalize_mrn(patient.mrn), patient)
        return [found[k] for k in sorted(found)]


def read_roster_csv(path: Path) -> RosterImport:
    """Read a roster CSV (header ``mrn,last,first,dob[,sex]``, any case, extra columns ignored,
    ISO dates, UTF-8 with or without BOM). Optional columns give other identifiers, several
    in one cell separated by ``;`` or ``|``: ``member_ids`` (insurance member IDs), ``accounts``
    (account or encounter numbers), ``previous_mrns`` (MRNs merged into this one), ``aliases``
    (former names, "LAST, FIRST" or "First Last"); COLUMN_ALIASES lists other accepted headers.
    Bad rows are skipped and reported (by the line they start on), never raised; an unreadable
    or non-UTF-8 file, or a header without a required column, raises InputFileError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputFileError(f"{path.name}: roster is not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise InputFileError(f"{path.name}: cannot read roster: {e.strerror or e}") from e
    records = _records(csv.reader(io.StringIO(text, newline="")))
    header = next(records, None)
    if header is None or header[1] is None:
        raise InputFileError(
            f"{path.name}: roster is empty or has no readable header (mrn,last,first,dob,sex)"
        )
    columns = _column_index(header[1])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputFileError(f"{path.name}: roster header lacks column(s): {', '.join(missing)}")
    patients: list[Patient] = []
    errors: list[str] = []
    first_line: dict[str, int] = {}
    for line_no, row in records:
        if row is None:
            errors.append(f"line {line_no}: unreadable csv record")
            continue
        if not any(cell.strip() for cell in row):
            continue
        patient, error = _parse_row(row, columns)
        if patient is not None:
            key = normalize_mrn(patient.mrn)
            if key in first_line:
                error = f"duplicate mrn '{patient.mrn}' (first on line {first_line[key]})"
            else:
                first_line[key] = line_no
                patients.append(patient)
        if error is not None:
            errors.append(f"line {line_no}: {error}")
    log.info("roster import: %d patients, %d rows rejected", len(patients), len(errors))
    return RosterImport(tuple(patients), tuple(errors))


def _records(reader: Reader) -> Iterator[tuple[int, list[str] | None]]:
    """(first line number, cells) of each record; cells are None for a record the csv module rejects."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            if reader.line_num < start:  # nothing consumed: stop rather than loop
                return
            yield start, None
            continue
        yield start, row


def _column_index(header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        key = "_".join(name.strip().lower().split())
        key = COLUMN_ALIASES.get(key, key)
        if key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS and key not in index:
            index[key] = i
    return index


def _parse_row(row: list[str], columns: dict[str, int]) -> tuple[Patient | None, str | None]:
    needed = max(columns.values()) + 1
    if len(row) < needed:
        return None, f"expected at least {needed} fields, got {len(row)}"
    cell = {name: row[i].strip() for name, i in columns.items()}
    mrn, last, first, dob_text = cell["mrn"], cell["last"], cell["first"], cell["dob"]
    if not mrn:
        return None, "missing mrn"
    if not _MRN_RE.fullmatch(mrn) or not normalize_mrn(mrn):
        return None, f"bad mrn '{mrn}'"
    if not normalize_name(last):
        return None, "missing last name"
    if not normalize_name(first):
        return None, "missing first name"
    if any(_is_control(c) for c in last + first):
        return None, "control characters in name"
    dob = _parse_iso_date(dob_text)
    if dob is None:
        return None, f"bad dob '{dob_text}'"
    identifiers: list[tuple[str, str]] = []
    for column, kind in _ID_COLUMNS.items():
        for value in _values(cell.get(column, "")):
            if not _MRN_RE.fullmatch(value) or not normalize_mrn(value):
                return None, f"bad {column} value '{value}'"
            if kind != "previous_mrn" or normalize_mrn(value) != normalize_mrn(mrn):
                identifiers.append((kind, value))
    aliases: list[PersonName] = []
    for value in _values(cell.get("aliases", "")):
        alias = parse_alias(value)
        if alias is None or any(_is_control(c) for c in value):
            return None, f"bad alias '{value}' (LAST, FIRST or First Last)"
        aliases.append(alias)
    patient = Patient(
        mrn=mrn, last=last, first=first, dob=dob, sex=cell.get("sex", "").upper(),
        aliases=tuple(dict.fromkeys(aliases)), identifiers=tuple(dict.fromkeys(identifiers)),
    )  # fmt: skip
    return patient, None


def _values(cell: str) -> list[str]:
    return [v.strip() for v in _MULTI_SEPARATOR.split(cell) if v.strip()]


def _is_control(char: str) -> bool:
    return unicodedata.category(char).startswith("C")


def _parse_iso_date(text: str) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        return None
    if value.year < 1850 or value > dt.date.today():
        return None
    return value
