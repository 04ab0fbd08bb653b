"""The master patient index in the archive database: import and lookups.

Blocking (finding candidate patients without scanning the roster) uses two
indexed columns: ``last_key``, the Soundex code of the last name normalized to
A-Z (accents and punctuation dropped), and ``dob``. MRNs are also stored without
leading zeros (``mrn_norm``) so "000123" on a page finds roster MRN "123".
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, case, false, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from chartclerk.classify.models import Patient
from chartclerk.errors import ArchiveError
from chartclerk.store.db import session_scope
from chartclerk.store.tables import PatientRow

log = logging.getLogger(__name__)

CANDIDATE_LIMIT = 200
IMPORT_BATCH = 5000
_UPDATED = ("mrn_norm", "last", "first", "dob", "sex", "last_key")
_SOUNDEX_GROUPS = {"1": "BFPV", "2": "CGJKQSXZ", "3": "DT", "4": "L", "5": "MN", "6": "R"}
_SOUNDEX = {letter: digit for digit, letters in _SOUNDEX_GROUPS.items() for letter in letters}


def normalize_mrn(mrn: str) -> str:
    """The MRN without white space and leading zeros, upper-cased ("" for an empty one)."""
    compact = "".join(mrn.split()).upper()
    return compact.lstrip("0") or ("0" if compact else "")


def normalize_name(name: str) -> str:
    """Letters A-Z only: "O'Brien-Núñez" -> "OBRIENNUNEZ", "Straße" -> "STRASSE"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed.upper() if "A" <= c <= "Z")


def soundex(name: str) -> str:
    """American Soundex of the normalized name ("" when it has no letters)."""
    letters = normalize_name(name)
    if not letters:
        return ""
    code = [letters[0]]
    previous = _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit:
            if digit != previous:
                code.append(digit)
            previous = digit
        elif c not in "HW":  # a vowel separates equal codes; H and W do not
            previous = ""
        if len(code) == 4:
            break
    return "".join(code).ljust(4, "0")


def _to_patient(row: PatientRow) -> Patient:
    return Patient(mrn=row.mrn, last=row.last, first=row.first, dob=row.dob, sex=row.sex)


def lookup_mrn(session: Session, mrn: str) -> PatientRow | None:
    """The patient with this MRN: exact match first, else the only one equal without leading zeros."""
    exact = session.get(PatientRow, mrn.strip())
    if exact is not None:
        return exact
    norm = normalize_mrn(mrn)
    if not norm:
        return None
    rows = session.scalars(select(PatientRow).where(PatientRow.mrn_norm == norm).limit(2)).all()
    return rows[0] if len(rows) == 1 else None  # two roster MRNs differing only in zeros: ambiguous


class ArchiveRoster:
    """The ``Roster`` protocol of chartclerk.classify.models over the archive database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def by_mrn(self, mrn: str) -> Patient | None:
        with session_scope(self._engine) as session:
            row = lookup_mrn(session, mrn)
            return None if row is None else _to_patient(row)

    def candidates(
        self, last_names: tuple[str, ...], dobs: tuple[dt.date, ...], *, limit: int = CANDIDATE_LIMIT
    ) -> list[Patient]:
        """Patients whose last name has the same Soundex code as one given, or whose DOB is one
        given; those matching both come first. At most ``limit``."""
        keys = sorted({k for k in (soundex(n) for n in last_names) if k})
        dates = sorted(set(dobs))
        if not keys and not dates:
            return []
        by_name = PatientRow.last_key.in_(keys) if keys else false()
        by_dob = PatientRow.dob.in_(dates) if dates else false()
        both = and_(by_name, by_dob) if keys and dates else false()
        query = (
            select(PatientRow)
            .where(or_(by_name, by_dob))
            .order_by(case((both, 0), else_=1), PatientRow.mrn)
            .limit(limit)
        )
        with session_scope(self._engine) as session:
            return [_to_patient(row) for row in session.scalars(query)]

    def count(self) -> int:
        with session_scope(self._engine) as session:
            return session.scalar(select(func.count()).select_from(PatientRow)) or 0


def import_patients(write_engine: Engine, patients: Iterable[Patient]) -> int:
    """Insert or update (by MRN) every patient, in one transaction. Returns how many were read."""
    total = 0
    with session_scope(write_engine) as session:
        for batch, read in _batches(patients, IMPORT_BATCH):
            _upsert(session, batch)
            total += read
    log.info("imported %d roster entries", total)
    return total


def _batches(patients: Iterable[Patient], size: int) -> Iterator[tuple[list[dict[str, Any]], int]]:
    batch: dict[str, dict[str, Any]] = {}  # by MRN: a repeated MRN keeps its last entry
    count = 0
    for index, patient in enumerate(patients):
        row = _row(patient, index)
        batch[row["mrn"]] = row
        count += 1
        if count == size:
            yield list(batch.values()), count
            batch, count = {}, 0
    if count:
        yield list(batch.values()), count


def _row(patient: Patient, index: int) -> dict[str, Any]:
    mrn = patient.mrn.strip()
    if not mrn:
        raise ArchiveError(f"roster entry {index + 1}: empty MRN")
    dob = patient.dob.date() if isinstance(patient.dob, dt.datetime) else patient.dob
    if not isinstance(dob, dt.date):
        raise ArchiveError(f"roster entry {index + 1}: date of birth is not a date")
    return {
        "mrn": mrn,
        "mrn_norm": normalize_mrn(mrn),
        "last": patient.last.strip(),
        "first": patient.first.strip(),
        "dob": dob,
        "sex": patient.sex.strip(),
        "last_key": soundex(patient.last),
    }


def _upsert(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    table = cast(Table, PatientRow.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        lite = sqlite_insert(table)
        session.execute(
            lite.on_conflict_do_update(
                index_elements=[table.c.mrn], set_={name: lite.excluded[name] for name in _UPDATED}
            ),
            list(rows),
        )
        return
    if dialect == "postgresql":
        pg = pg_insert(table)
        session.execute(
            pg.on_conflict_do_update(
                index_elements=[table.c.mrn], set_={name: pg.excluded[name] for name in _UPDATED}
            ),
            list(rows),
        )
        return
    # Other databases: update the MRNs already there, insert the rest.
    mrns = [row["mrn"] for row in rows]
    present = set(session.scalars(select(PatientRow.mrn).where(PatientRow.mrn.in_(mrns))))
    old = [row for row in rows if row["mrn"] in present]
    new = [row for row in rows if row["mrn"] not in present]
    if old:
        session.execute(update(PatientRow), old)
    if new:
        session.execute(insert(PatientRow), new)
