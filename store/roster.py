"""The master patient index in the archive database: import and lookups.

Blocking (finding candidate patients without scanning the roster) uses two
indexed columns: ``last_key``, the Soundex code of the last name normalized to
A-Z (accents and punctuation dropped), and ``dob``. MRNs are also stored without
leading zeros (``mrn_norm``) so "000123" on a page finds roster MRN "123".

Lookups run on every document, against rosters of a million patients, so they are
SQLAlchemy Core statements (no ORM session, no objects but the ``Patient`` returned)
on one connection, each kept to an index seek:

* by MRN: the primary key, then ``mrn_norm``;
* by DOB: ``dob IN (...)`` on ``ix_patients_dob`` (tens of patients per date);
* by name near some dates: ``last_key IN (...) AND dob IN (...)``. A common last name's
  Soundex block holds ~1% of the roster, so this must be driven by the dates. A composite
  index ``(last_key, dob)``, when the schema has one, does it in one seek per pair; without
  it, ``last_key`` is wrapped in an expression so that SQLite's planner (which would
  otherwise pick ``ix_patients_last_key`` once there are many dates) walks ``ix_patients_dob``;
* by name alone (no DOB on the page): the ``last_key`` block, at most ``NAME_ONLY_LIMIT``;
* by another identifier (member ID, account number, previous MRN): ``patient_identifiers``
  on ``(kind, value_norm)`` (migration 0006). Every patient returned carries its aliases and
  identifiers, read in one more query on ``patient_identifiers.patient_mrn``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    case,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chartclerk.classify.models import IDENTIFIER_KINDS, Patient
from chartclerk.classify.roster import alias_text, parse_alias
from chartclerk.errors import ArchiveError
from chartclerk.store.db import db_error_message, session_scope
from chartclerk.store.tables import PatientIdentifierRow, PatientRow

log = logging.getLogger(__name__)

CANDIDATE_LIMIT = 200  # patients returned by one blocking query, at most
NAME_ONLY_LIMIT = 50  # patients of one name block read when the page has no DOB (suggestions only)
IMPORT_BATCH = 5000
_UPDATED = ("mrn_norm", "last", "first", "dob", "sex", "last_key")
_SOUNDEX_GROUPS = {"1": "BFPV", "2": "CGJKQSXZ", "3": "DT", "4": "L", "5": "MN", "6": "R"}
_SOUNDEX = {letter: digit for digit, letters in _SOUNDEX_GROUPS.items() for letter in letters}
_PATIENTS = cast(Table, PatientRow.__table__)
_FIELDS = (_PATIENTS.c.mrn, _PATIENTS.c.last, _PATIENTS.c.first, _PATIENTS.c.dob, _PATIENTS.c.sex)
_IDS = cast(Table, PatientIdentifierRow.__table__)
IDENTIFIER_LIMIT = 10  # patients one member ID or account number may be shared by, read at most


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


def _to_patient(row: Any) -> Patient:  # a PatientRow or a Core row of _FIELDS
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


def _statements(key: ColumnElement[str]) -> tuple[Select[Any], ...]:
    """The blocking queries, built once (SQLAlchemy then reuses their compiled form)."""
    t = _PATIENTS
    keys: BindParameter[Any] = bindparam("keys", expanding=True)
    dates: BindParameter[Any] = bindparam("dates", expanding=True)
    columns = (*_FIELDS, t.c.last_key)
    # a placeholder DOB may hold many patients: those with a given name key are read first
    same_key_first = case((t.c.last_key.in_(keys), 0), else_=1)
    by_dob = (
        select(*columns).where(t.c.dob.in_(dates)).order_by(same_key_first, t.c.mrn).limit(bindparam("n"))
    )
    near: BindParameter[Any] = bindparam("near", expanding=True)
    by_key_near = select(*columns).where(key.in_(bindparam("keys", expanding=True)), t.c.dob.in_(near))
    by_key = select(*columns).where(t.c.last_key.in_(bindparam("keys", expanding=True)))
    return by_dob, by_key_near.limit(bindparam("n")), by_key.limit(bindparam("n"))


_BY_MRN = (
    select(*_FIELDS)
    .where(or_(_PATIENTS.c.mrn == bindparam("mrn"), _PATIENTS.c.mrn_norm == bindparam("norm")))
    .order_by(case((_PATIENTS.c.mrn == bindparam("mrn"), 0), else_=1))
    .limit(3)
)
_BY_MRNS = select(*_FIELDS).where(_PATIENTS.c.mrn.in_(bindparam("mrns", expanding=True)))
_BY_NORMS = select(*_FIELDS).where(_PATIENTS.c.mrn_norm.in_(bindparam("norms", expanding=True)))
_BY_IDENTIFIER = (
    select(*_FIELDS)
    .join(_IDS, _IDS.c.patient_mrn == _PATIENTS.c.mrn)
    .where(_IDS.c.kind == bindparam("kind"), _IDS.c.value_norm == bindparam("norm"))
    .order_by(_PATIENTS.c.mrn)
    .limit(IDENTIFIER_LIMIT)
)
_IDENTIFIERS_OF = select(_IDS.c.id, _IDS.c.patient_mrn, _IDS.c.kind, _IDS.c.value, _IDS.c.value_norm).where(
    _IDS.c.patient_mrn.in_(bindparam("mrns", expanding=True))
)
_WITH_COMPOSITE = _statements(_PATIENTS.c.last_key)
_WITHOUT_COMPOSITE = _statements(_PATIENTS.c.last_key.concat(""))  # not indexable: dates drive the search


class ArchiveRoster:
    """The ``Roster`` protocol of chartclerk.classify.models over the archive database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statements: tuple[Select[Any], ...] | None = None  # chosen by the indexes there are
        self._lock = threading.Lock()

    def by_mrn(self, mrn: str) -> Patient | None:
        """The patient with this MRN: exact match first, else the only one equal without leading zeros."""
        norm = normalize_mrn(mrn)
        if not norm:
            return None
        with self._connect() as conn:
            rows = conn.execute(_BY_MRN, {"mrn": mrn.strip(), "norm": norm}).all()
            if not rows or (len(rows) > 1 and rows[0].mrn != mrn.strip()):
                return None  # "000123" and "123" both there: ambiguous
            return _with_identifiers(conn, [rows[0]])[0]

    def by_identifier(self, kind: str, value: str) -> list[Patient]:
        """Patients the roster gives this member ID, account number or previous MRN (``kind``),
        compared as MRNs are; at most IDENTIFIER_LIMIT."""
        norm = normalize_mrn(value)
        if kind not in IDENTIFIER_KINDS or not norm:
            return []
        with self._connect() as conn:
            rows = conn.execute(_BY_IDENTIFIER, {"kind": kind, "norm": norm}).all()
            return _with_identifiers(conn, rows)

    def by_mrns(self, mrns: tuple[str, ...]) -> list[Patient]:
        """Patients whose MRN is one of ``mrns``, compared without leading zeros (by MRN)."""
        norms = sorted({n for n in (normalize_mrn(m) for m in mrns) if n})
        if not norms:
            return []
        with self._connect() as conn:
            rows = conn.execute(_BY_NORMS, {"norms": norms}).all()
            return sorted(_with_identifiers(conn, rows), key=lambda p: p.mrn)

    def patients(self, mrns: Iterable[str]) -> dict[str, Patient]:
        """The roster entries of these exact MRNs (as stored), by MRN; absent ones are left out."""
        wanted = sorted({m for m in mrns if m})
        if not wanted:
            return {}
        with self._connect() as conn:
            rows = conn.execute(_BY_MRNS, {"mrns": wanted}).all()
            return {p.mrn: p for p in _with_identifiers(conn, rows)}

    def candidates(
        self,
        last_names: tuple[str, ...],
        dobs: tuple[dt.date, ...],
        *,
        near_dobs: tuple[dt.date, ...] = (),
        limit: int = CANDIDATE_LIMIT,
    ) -> list[Patient]:
        """Patients whose DOB is one of ``dobs`` (any name), and patients whose last name has the
        same Soundex code as one given, born on one of ``near_dobs`` when some are given (on any
        date otherwise, at most ``NAME_ONLY_LIMIT`` read). Those matching a name and a DOB of
        ``dobs`` come first, then by MRN; at most ``limit``."""
        keys = sorted({k for k in (soundex(n) for n in last_names) if k})
        dates = sorted(set(dobs))
        near = sorted(set(near_dobs) - set(dates))
        found: dict[str, Any] = {}  # Core rows by MRN
        with self._connect() as conn:
            by_dob, by_key_near, by_key = self._blocking(conn)
            queries: list[tuple[Select[Any], dict[str, Any]]] = []
            if dates:
                queries.append((by_dob, {"dates": dates, "keys": keys, "n": limit}))
            if keys and near:
                queries.append((by_key_near, {"keys": keys, "near": near, "n": limit}))
            elif keys and not near_dobs:
                queries.append((by_key, {"keys": keys, "n": NAME_ONLY_LIMIT}))
            for query, params in queries:
                for row in conn.execute(query, params):
                    found.setdefault(row.mrn, row)
            date_set, key_set = set(dates), set(keys)
            ordered = sorted(
                found.values(), key=lambda r: (not (r.last_key in key_set and r.dob in date_set), r.mrn)
            )
            return _with_identifiers(conn, ordered[:limit])

    def count(self) -> int:
        with self._connect() as conn:
            return conn.scalar(select(func.count()).select_from(_PATIENTS)) or 0

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """One read transaction; database errors become ArchiveError (without parameters)."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise ArchiveError(f"archive database error: {db_error_message(e)}") from e

    def _blocking(self, conn: Connection) -> tuple[Select[Any], ...]:
        """The blocking queries for the indexes this database has (see the module doc)."""
        if self._statements is None:
            with self._lock:
                indexes = inspect(conn).get_indexes(_PATIENTS.name)
                composite = any(
                    list(ix["column_names"][:2]) in (["last_key", "dob"], ["dob", "last_key"])
                    for ix in indexes
                )
                self._statements = _WITH_COMPOSITE if composite else _WITHOUT_COMPOSITE
        return self._statements


def _with_identifiers(conn: Connection, rows: Sequence[Any]) -> list[Patient]:
    """Patients of Core rows of _FIELDS, each with its aliases and other identifiers."""
    if not rows:
        return []
    extra: dict[str, list[Any]] = {}
    for found in conn.execute(_IDENTIFIERS_OF, {"mrns": sorted({row.mrn for row in rows})}):
        extra.setdefault(found.patient_mrn, []).append(found)
    patients = []
    for row in rows:
        patient = _to_patient(row)
        mine = sorted(extra.get(row.mrn, ()), key=lambda r: r.id)  # as imported
        if mine:
            aliases = tuple(a for a in (parse_alias(r.value_norm) for r in mine if r.kind == "alias") if a)
            numbers = tuple((r.kind, r.value) for r in mine if r.kind != "alias")
            patient = Patient(
                patient.mrn, patient.last, patient.first, patient.dob, patient.sex, aliases, numbers
            )
        patients.append(patient)
    return patients


def import_patients(write_engine: Engine, patients: Iterable[Patient]) -> int:
    """Insert or update (by MRN) every patient, in one transaction. Returns how many were read.
    A listed patient carrying aliases or other identifiers has its earlier ones replaced by them;
    one carrying none keeps its earlier ones (a roster file without those columns erases nothing)."""
    total = 0
    with session_scope(write_engine) as session:
        # nothing to replace while the table is empty (most rosters carry no other identifiers)
        stored = session.execute(select(_IDS.c.id).limit(1)).first() is not None
        for batch, identifiers, read in _batches(patients, IMPORT_BATCH):
            _upsert(session, batch)
            replaced = sorted({row["patient_mrn"] for row in identifiers})
            if stored and replaced:
                session.execute(_IDS.delete().where(_IDS.c.patient_mrn.in_(replaced)))
            if identifiers:
                session.execute(insert(_IDS), identifiers)
                stored = True
            total += read
    log.info("imported %d roster entries", total)
    return total


def _batches(
    patients: Iterable[Patient], size: int
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], int]]:
    batch: dict[str, dict[str, Any]] = {}  # by MRN: a repeated MRN keeps its last entry
    identifiers: dict[str, list[dict[str, Any]]] = {}
    count = 0
    for index, patient in enumerate(patients):
        row = _row(patient, index)
        batch[row["mrn"]] = row
        identifiers[row["mrn"]] = _identifier_rows(row["mrn"], patient)
        count += 1
        if count == size:
            yield list(batch.values()), [r for rows in identifiers.values() for r in rows], count
            batch, identifiers, count = {}, {}, 0
    if count:
        yield list(batch.values()), [r for rows in identifiers.values() for r in rows], count


def _identifier_rows(mrn: str, patient: Patient) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, value in patient.identifiers:
        norm = normalize_mrn(value)
        if kind not in IDENTIFIER_KINDS or not norm:
            raise ArchiveError(f"roster entry {mrn}: bad {kind or 'identifier'}")
        rows.setdefault(
            (kind, norm), {"patient_mrn": mrn, "kind": kind, "value": value.strip(), "value_norm": norm}
        )
    for alias in patient.aliases:
        text = alias_text(alias)
        rows.setdefault(
            ("alias", text), {"patient_mrn": mrn, "kind": "alias", "value": text, "value_norm": text}
        )
    return list(rows.values())


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
