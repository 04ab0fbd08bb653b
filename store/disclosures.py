"""The disclosure log and the accounting of disclosures (45 CFR 164.528).

Every release of records appends one entry to ``disclosures``: when, to whom (name and address),
a description of what was disclosed, the purpose (or a reference to the written request), the
legal basis, the documents and the SHA-256 of the packet sent. Like the audit log
(chartclerk.store.audit) the table is append-only (SQLite triggers) and hash-chained: each
entry's ``hash`` is the SHA-256 of its fields and the hash of the entry before it, and every
committed entry is checkpointed outside the database (chartclerk.store.anchor).

:func:`accounting` selects what 164.528 requires a patient be told: the disclosures of the last
six years except those exempt (164.528(a)(1)): for treatment, payment or health care operations,
to the patient themselves, and under the patient's authorization.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from chartclerk.files import sha256_file
from chartclerk.settings import ReleaseSettings
from chartclerk.store.anchor import note_write
from chartclerk.store.audit import GENESIS, Actor, ChainReport, canonical_json, utc_stamp, walk_chain
from chartclerk.store.db import session_scope
from chartclerk.store.packet import write_text_pdf
from chartclerk.store.tables import DisclosureRow

# Legal bases of a request (and so of the disclosure that answers it).
BASES = (
    "access",  # the patient's right of access (164.524): to the patient
    "authorization",  # under the patient's signed authorization (164.508)
    "treatment",
    "payment",
    "operations",
    "legal",  # subpoena, court order (164.512(e))
    "public-health",  # 164.512(b)
    "law-enforcement",  # 164.512(f)
    "research",  # 164.512(i), waiver of authorization
    "oversight",  # health oversight, 164.512(d)
    "decedent",  # coroners, funeral directors, 164.512(g)
    "workers-comp",  # 164.512(l)
    "other",
)
# 164.528(a)(1): these are not accounted for.
EXEMPT_BASES = frozenset({"access", "authorization", "treatment", "payment", "operations"})
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One entry of the disclosure log: the elements 164.528(b)(2) requires."""

    id: int
    at: dt.datetime
    patient_mrn: str
    recipient: str
    address: str
    description: str
    purpose: str
    basis: str
    request_id: int | None
    documents: tuple[int, ...]
    packet_sha256: str
    user: str
    hash: str

    @property
    def exempt(self) -> bool:
        return self.basis in EXEMPT_BASES

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date": self.at.isoformat(),
            "patient_mrn": self.patient_mrn,
            "recipient": self.recipient,
            "address": self.address,
            "description": self.description,
            "purpose": self.purpose,
            "basis": self.basis,
            "request": self.request_id,
            "documents": list(self.documents),
            "packet_sha256": self.packet_sha256,
            "user": self.user,
        }


@dataclass(frozen=True, slots=True)
class Accounting:
    """A patient's accounting of disclosures, from ``start`` to ``now``."""

    patient_mrn: str
    patient_name: str
    patient_dob: dt.date
    start: dt.datetime
    now: dt.datetime
    entries: tuple[Disclosure, ...]


CSV_FIELDS = ("date", "recipient", "address", "description", "purpose", "basis", "request", "packet_sha256")


def write_accounting(report: Accounting, out: Path, config: ReleaseSettings) -> str:
    """Write the accounting as CSV (``.csv``) or as a printable PDF; returns the file's SHA-256."""
    if out.suffix.lower() == ".csv":
        return _write_csv(report, out)
    lines: list[tuple[bool, str]] = [
        (True, config.office_name),
        (False, ""),
        (True, "ACCOUNTING OF DISCLOSURES (45 CFR 164.528)"),
        (
            False,
            f"Patient: {report.patient_name}   MRN: {report.patient_mrn}   DOB: {report.patient_dob}",
        ),
        (False, f"Period: {report.start.date().isoformat()} to {report.now.date().isoformat()}"),
        (False, f"Disclosures: {len(report.entries)}"),
        (False, ""),
    ]
    for d in report.entries:
        lines.append((True, f"{d.at.date().isoformat()}  to {d.recipient}"))
        for label, value in (
            ("Address", d.address),
            ("Disclosed", d.description),
            ("Purpose", d.purpose),
            ("Basis", d.basis),
        ):
            lines += [
                (False, w)
                for w in textwrap.wrap(
                    f"{label}: {value}", 88, initial_indent="    ", subsequent_indent="        "
                )
            ]
        lines.append((False, ""))
    if not report.entries:
        lines.append((False, "No accountable disclosures in this period."))
    lines += [
        (False, ""),
        (False, "Not listed (164.528(a)(1)): disclosures for treatment, payment and health care operations,"),
        (False, "to the patient, and under the patient's authorization."),
    ]
    return write_text_pdf(lines, out, title=f"Accounting of disclosures, MRN {report.patient_mrn}")


def _write_csv(report: Accounting, out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_FIELDS)
            for d in report.entries:
                writer.writerow(
                    [d.at.isoformat(), d.recipient, d.address, d.description, d.purpose, d.basis,
                     d.request_id or "", d.packet_sha256]
                )  # fmt: skip
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest


def disclosure_hash(row: DisclosureRow) -> str:
    """SHA-256 over the previous hash and every field of the entry, as stored."""
    fields = [
        row.prev_hash,
        row.id,
        utc_stamp(row.at),
        row.patient_mrn,
        row.recipient,
        row.address,
        row.description,
        row.purpose,
        row.basis,
        row.request_id,
        row.documents,
        row.packet_sha256,
        row.user,
    ]
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def append_disclosure(
    session: Session,
    actor: Actor,
    *,
    patient_mrn: str,
    recipient: str,
    address: str,
    description: str,
    purpose: str,
    basis: str,
    request_id: int | None,
    documents: Iterable[int],
    packet_sha256: str,
    at: dt.datetime | None = None,
) -> int:
    """Add one entry inside the caller's write transaction; returns its id. ``at`` is for
    recording a disclosure made earlier (e.g. on paper); default now."""
    if basis not in BASES:
        raise ValueError(f"unknown basis {basis!r}")
    last = session.execute(
        select(DisclosureRow.id, DisclosureRow.hash).order_by(DisclosureRow.id.desc()).limit(1)
    ).first()
    entry_id, prev = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
    when = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    row = DisclosureRow(
        id=entry_id,
        at=when,
        patient_mrn=patient_mrn,
        recipient=recipient,
        address=address,
        description=description,
        purpose=purpose,
        basis=basis,
        request_id=request_id,
        documents=canonical_json(sorted(set(documents))),
        packet_sha256=packet_sha256,
        user=actor.user,
        prev_hash=prev,
        hash="",
    )
    row.hash = disclosure_hash(row)
    session.add(row)
    session.flush()
    note_write(session, "disclosures", entry_id, row.hash)
    return entry_id


def read_disclosures(
    engine: Engine, patient_mrn: str, since: dt.datetime | None = None
) -> Iterator[Disclosure]:
    """A patient's disclosures, oldest first (at or after ``since``)."""
    query = select(DisclosureRow).where(DisclosureRow.patient_mrn == patient_mrn).order_by(DisclosureRow.id)
    if since is not None:
        query = query.where(DisclosureRow.at >= since)
    with session_scope(engine) as session:
        for row in session.scalars(query.execution_options(yield_per=_BATCH)):
            yield _disclosure(row)


def accounting(
    engine: Engine, patient_mrn: str, *, now: dt.datetime, years: int = 6, since: dt.datetime | None = None
) -> list[Disclosure]:
    """The accountable disclosures of ``patient_mrn``: within ``years`` before ``now`` (and at or
    after ``since`` if later), exempt bases left out."""
    cutoff = years_before(now, years)
    start = max(cutoff, since) if since is not None else cutoff
    return [d for d in read_disclosures(engine, patient_mrn, start) if not d.exempt and d.at <= now]


def verify_disclosures(engine: Engine) -> ChainReport:
    """Recompute every entry's hash and check each links to the one before it."""
    return walk_chain(engine, DisclosureRow, "disclosure", disclosure_hash)


def years_before(now: dt.datetime, years: int) -> dt.datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _disclosure(row: DisclosureRow) -> Disclosure:
    try:
        docs = json.loads(row.documents)
    except ValueError:
        docs = []
    return Disclosure(
        id=row.id,
        at=row.at,
        patient_mrn=row.patient_mrn,
        recipient=row.recipient,
        address=row.address,
        description=row.description,
        purpose=row.purpose,
        basis=row.basis,
        request_id=row.request_id,
        documents=tuple(int(d) for d in docs) if isinstance(docs, list) else (),
        packet_sha256=row.packet_sha256,
        user=row.user,
        hash=row.hash,
    )
