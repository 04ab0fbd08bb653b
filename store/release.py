"""Release of information: requests for records, restricted documents and release packets.

A request records who asked, for whom, why, on what legal basis (chartclerk.store.disclosures
``BASES``), when it was received and when it is due (a patient's access request: 30 days,
45 CFR 164.524(b)(2), with one recorded 30-day extension), its scope (document types and a
date range, or chosen documents) and its status: ``received``, ``extended``, ``released`` or
``denied`` (with the reason).

Releasing writes the packet (chartclerk.store.packet) and then, in one transaction, marks the
request released with the packet's SHA-256, appends the disclosure (chartclerk.store.disclosures)
and the audit entry. Documents marked restricted (42 CFR Part 2 records, psychotherapy notes)
are left out of a scope by type and date unless the request includes restricted documents or
names them; the cover letter lists what was withheld.

Every check runs before anything is written: a bad request leaves the database and the output
folder as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chartclerk.errors import NotFoundError, RequestError
from chartclerk.settings import ReleaseSettings
from chartclerk.store.archive import Archive
from chartclerk.store.audit import append_entry
from chartclerk.store.db import session_scope, write_engine
from chartclerk.store.disclosures import BASES, Accounting, accounting, append_disclosure, years_before
from chartclerk.store.packet import CoverLetter, PacketDocument, PacketResult, write_packet
from chartclerk.store.roster import lookup_mrn
from chartclerk.store.tables import (
    DocumentRow,
    PageRow,
    PatientRow,
    ReleaseRequestRow,
    RestrictionRow,
)

log = logging.getLogger(__name__)

STATUSES = ("received", "extended", "released", "denied")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a request asks for: chosen documents, or types and a date range (inclusive)."""

    types: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    documents: tuple[int, ...] = ()
    include_restricted: bool = False


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    id: int
    patient_mrn: str
    requester: str
    address: str
    purpose: str
    basis: str
    received_on: dt.date
    due_on: dt.date
    extension_reason: str | None
    status: str
    status_reason: str | None
    scope: Scope
    packet_sha256: str | None
    packet_pages: int | None
    released_at: dt.datetime | None
    created_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "patient_mrn": self.patient_mrn,
            "requester": self.requester,
            "address": self.address,
            "purpose": self.purpose,
            "basis": self.basis,
            "received_on": self.received_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "extension_reason": self.extension_reason,
            "status": self.status,
            "status_reason": self.status_reason,
            "scope": {
                "types": list(self.scope.types),
                "from": self.scope.date_from.isoformat() if self.scope.date_from else None,
                "to": self.scope.date_to.isoformat() if self.scope.date_to else None,
                "documents": list(self.scope.documents),
                "include_restricted": self.scope.include_restricted,
            },
            "packet_sha256": self.packet_sha256,
            "packet_pages": self.packet_pages,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class ScopedDocuments:
    released: tuple[PacketDocument, ...]
    withheld: tuple[tuple[int, str, dt.date], ...]  # restricted: id, type, date


@dataclass(frozen=True, slots=True)
class Release:
    request: ReleaseRequest
    packet: PacketResult
    disclosure_id: int
    withheld: int


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def new_request(
    archive: Archive,
    config: ReleaseSettings,
    *,
    patient: str,
    requester: str,
    address: str,
    purpose: str,
    basis: str,
    scope: Scope,
    received_on: dt.date | None = None,
    due_on: dt.date | None = None,
    today: dt.date | None = None,
) -> ReleaseRequest:
    """Record a request. Raises NotFoundError (unknown MRN, unknown document) or RequestError
    (bad basis, dates or scope); nothing is written then."""
    today = today or today_utc()
    received = received_on or today
    requester, address, purpose = (
        _clean(requester, "requester"),
        _clean(address, "address"),
        _clean(purpose, "purpose"),
    )
    if basis not in BASES:
        raise RequestError(f"unknown basis {basis!r} (one of {', '.join(BASES)})")
    if received > today:
        raise RequestError(f"received date {received} is in the future")
    if due_on is None:
        due_on = received + dt.timedelta(days=config.access_days)
    if due_on < today:
        raise RequestError(f"due date {due_on} is in the past")
    if due_on < received:
        raise RequestError(f"due date {due_on} is before the request was received ({received})")
    if basis == "access" and due_on > received + dt.timedelta(days=config.access_days):
        raise RequestError(
            f"a patient's access request is due within {config.access_days} days of receipt "
            f"(by {received + dt.timedelta(days=config.access_days)}); record an extension instead"
        )
    if scope.date_from and scope.date_to and scope.date_from > scope.date_to:
        raise RequestError(f"scope starts {scope.date_from}, after it ends {scope.date_to}")
    writer = write_engine(archive.engine)
    with session_scope(writer) as session:
        row = lookup_mrn(session, patient)
        if row is None:
            raise NotFoundError(f"no patient with MRN {patient} in the roster")
        found = _scoped(session, archive.root, row.mrn, scope)
        if not found.released and not found.withheld:
            raise RequestError(f"no filed documents of patient {row.mrn} are in the requested scope")
        req = ReleaseRequestRow(
            patient_mrn=row.mrn,
            requester=requester,
            address=address,
            purpose=purpose,
            basis=basis,
            received_on=received,
            due_on=due_on,
            status="received",
            scope_types=json.dumps(sorted(set(scope.types))),
            scope_from=scope.date_from,
            scope_to=scope.date_to,
            scope_documents=json.dumps(sorted(set(scope.documents))),
            include_restricted=scope.include_restricted,
            created_by=archive.actor.user,
        )
        session.add(req)
        session.flush()
        append_entry(session, archive.actor, "release new", {"request": req.id, "basis": basis}, [row.mrn])
        result = _request(req)
    log.info("release request %d recorded (%s)", result.id, basis)
    return result


def get_request(archive: Archive, request_id: int) -> ReleaseRequest:
    with session_scope(archive.engine) as session:
        return _request(_load(session, request_id))


def list_requests(
    archive: Archive, *, due_before: dt.date | None = None, status: str | None = None, open_only: bool = False
) -> list[ReleaseRequest]:
    """Requests, soonest due first; reading them is audited."""
    query = select(ReleaseRequestRow).order_by(ReleaseRequestRow.due_on, ReleaseRequestRow.id)
    if due_before is not None:
        query = query.where(ReleaseRequestRow.due_on < due_before)
    if status is not None:
        query = query.where(ReleaseRequestRow.status == status)
    if open_only:
        query = query.where(ReleaseRequestRow.status.in_(("received", "extended")))
    with session_scope(archive.engine) as session:
        out = [_request(r) for r in session.scalars(query)]
    archive.record_access("release list", {"requests": [r.id for r in out]}, [r.patient_mrn for r in out])
    return out


def extend_request(
    archive: Archive, config: ReleaseSettings, request_id: int, reason: str, today: dt.date | None = None
) -> ReleaseRequest:
    """Record the one extension a request may have (its reason is kept)."""
    reason = _clean(reason, "reason")
    with session_scope(write_engine(archive.engine)) as session:
        row = _load(session, request_id)
        if row.status != "received":
            raise RequestError(
                f"request {request_id} is {row.status}: only a received request can be extended"
            )
        if row.extension_reason is not None:
            raise RequestError(f"request {request_id} was already extended once")
        row.due_on = row.due_on + dt.timedelta(days=config.extension_days)
        row.extension_reason = reason
        row.status = "extended"
        append_entry(session, archive.actor, "release extend", {"request": row.id}, [row.patient_mrn])
        return _request(row)


def deny_request(archive: Archive, request_id: int, reason: str) -> ReleaseRequest:
    reason = _clean(reason, "reason")
    with session_scope(write_engine(archive.engine)) as session:
        row = _load(session, request_id)
        if row.status not in ("received", "extended"):
            raise RequestError(f"request {request_id} is already {row.status}")
        row.status = "denied"
        row.status_reason = reason
        append_entry(session, archive.actor, "release deny", {"request": row.id}, [row.patient_mrn])
        return _request(row)


def set_restricted(archive: Archive, doc_id: int, *, restricted: bool, reason: str) -> bool:
    """Mark a document restricted (or lift it); audited with the reason. Returns whether the
    flag changed."""
    reason = _clean(reason, "reason")
    with session_scope(write_engine(archive.engine)) as session:
        doc = session.get(DocumentRow, doc_id)
        if doc is None:
            raise NotFoundError(f"document {doc_id} not found")
        current = session.get(RestrictionRow, doc_id)
        if restricted == (current is not None):
            return False
        if restricted:
            session.add(RestrictionRow(document_id=doc_id, reason=reason, user=archive.actor.user))
        else:
            session.delete(current)
        action = "restrict" if restricted else "unrestrict"
        append_entry(
            session, archive.actor, action, {"documents": [doc_id], "reason": reason}, [doc.patient_mrn]
        )
    return True


def restricted_documents(archive: Archive, doc_ids: list[int]) -> set[int]:
    with session_scope(archive.engine) as session:
        query = select(RestrictionRow.document_id).where(RestrictionRow.document_id.in_(doc_ids))
        return set(session.scalars(query))


def release_packet(
    archive: Archive, config: ReleaseSettings, request_id: int, out: Path, today: dt.date | None = None
) -> Release:
    """Write the packet of ``request_id`` to ``out`` and record the release and the disclosure.

    If recording fails the packet file is removed again."""
    today = today or today_utc()
    with session_scope(archive.engine) as session:
        req = _load(session, request_id)
        if req.status not in ("received", "extended"):
            raise RequestError(f"request {request_id} is {req.status}; nothing to release")
        patient = session.get(PatientRow, req.patient_mrn)
        assert patient is not None  # foreign key
        found = _scoped(session, archive.root, req.patient_mrn, _request(req).scope)
        request = _request(req)
        name = f"{patient.first} {patient.last}"
        dob = patient.dob
    if not found.released:
        raise RequestError(f"no document of request {request_id} can be released (all are withheld or gone)")
    withheld = tuple(
        f"document {i} ({t}, {d.isoformat()}): restricted (42 CFR Part 2 or psychotherapy notes); "
        "released only when the request includes restricted records"
        for i, t, d in found.withheld
    )
    cover = CoverLetter(
        office=config.office_name,
        office_address=config.office_address,
        request_id=request.id,
        date=today,
        requester=request.requester,
        requester_address=request.address,
        patient_name=name,
        patient_mrn=request.patient_mrn,
        patient_dob=dob,
        purpose=request.purpose,
        basis=request.basis,
        documents=found.released,
        withheld=withheld,
    )
    out = out.absolute()
    if out.exists():
        raise RequestError(f"{out.name} already exists; choose another file")
    packet = write_packet(cover, out)
    description = "; ".join(f"{d.doc_type} of {d.date.isoformat()} ({d.pages} p.)" for d in found.released)
    ids = [d.id for d in found.released]
    try:
        with session_scope(write_engine(archive.engine)) as session:
            row = _load(session, request_id)
            if row.status not in ("received", "extended"):
                raise RequestError(f"request {request_id} was {row.status} meanwhile")
            row.status = "released"
            row.packet_sha256 = packet.sha256
            row.packet_pages = packet.pages
            row.released_at = dt.datetime.now(dt.UTC)
            disclosure_id = append_disclosure(
                session,
                archive.actor,
                patient_mrn=row.patient_mrn,
                recipient=row.requester,
                address=row.address,
                description=f"{len(ids)} documents, {packet.pages} pages: {description}"[:20000],
                purpose=f"{row.purpose} (written request {row.id})",
                basis=row.basis,
                request_id=row.id,
                documents=ids,
                packet_sha256=packet.sha256,
            )
            append_entry(
                session,
                archive.actor,
                "release",
                {"request": row.id, "documents": ids, "withheld": [w[0] for w in found.withheld],
                 "sha256": packet.sha256, "to": str(out)},
                [row.patient_mrn],
            )  # fmt: skip
            result = _request(row)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return Release(request=result, packet=packet, disclosure_id=disclosure_id, withheld=len(found.withheld))


def accounting_for(
    archive: Archive,
    config: ReleaseSettings,
    mrn: str,
    *,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Accounting:
    """The accounting of disclosures of patient ``mrn`` (see chartclerk.store.disclosures);
    reading it is audited."""
    now = now or dt.datetime.now(dt.UTC)
    with session_scope(archive.engine) as session:
        row = lookup_mrn(session, mrn)
        if row is None:
            raise NotFoundError(f"no patient with MRN {mrn} in the roster")
        found, name, dob = row.mrn, f"{row.first} {row.last}", row.dob
    entries = accounting(archive.engine, found, now=now, years=config.accounting_years, since=since)
    start = (
        max(years_before(now, config.accounting_years), since)
        if since
        else years_before(now, config.accounting_years)
    )
    archive.record_access("disclosures", {"entries": [e.id for e in entries]}, [found])
    return Accounting(
        patient_mrn=found, patient_name=name, patient_dob=dob, start=start, now=now, entries=tuple(entries)
    )


def _scoped(session: Session, root: Path, mrn: str, scope: Scope) -> ScopedDocuments:
    """The filed documents of ``mrn`` in ``scope``, oldest first, split into released and withheld.
    A chosen document of another patient, in review or unknown is an error."""
    pages = select(func.count()).where(PageRow.document_id == DocumentRow.id).scalar_subquery()
    restricted = (
        select(RestrictionRow.document_id).where(RestrictionRow.document_id == DocumentRow.id).exists()
    )
    query: Select[Any] = select(
        DocumentRow.id, DocumentRow.doc_type, DocumentRow.created_at, DocumentRow.pdf_path,
        DocumentRow.patient_mrn, DocumentRow.status, pages.label("pages"), restricted.label("restricted"),
    )  # fmt: skip
    if scope.documents:
        rows = session.execute(query.where(DocumentRow.id.in_(scope.documents))).all()
        known = {r.id: r for r in rows}
        for doc_id in scope.documents:
            r = known.get(doc_id)
            if r is None:
                raise NotFoundError(f"document {doc_id} not found")
            if r.status != "filed":
                raise RequestError(f"document {doc_id} is in review, not filed: it cannot be released")
            if r.patient_mrn != mrn:
                raise RequestError(f"document {doc_id} belongs to another patient, not {mrn}")
        chosen = [known[i] for i in sorted(set(scope.documents))]
        return ScopedDocuments(tuple(_packet_doc(root, r) for r in chosen), ())
    query = query.where(DocumentRow.patient_mrn == mrn, DocumentRow.status == "filed")
    if scope.types:
        query = query.where(DocumentRow.doc_type.in_(scope.types))
    if scope.date_from is not None:
        query = query.where(DocumentRow.created_at >= _start_of(scope.date_from))
    if scope.date_to is not None:
        query = query.where(DocumentRow.created_at < _start_of(scope.date_to + dt.timedelta(days=1)))
    released: list[PacketDocument] = []
    withheld: list[tuple[int, str, dt.date]] = []
    for r in session.execute(query.order_by(DocumentRow.created_at, DocumentRow.id)):
        if r.restricted and not scope.include_restricted:
            withheld.append((r.id, r.doc_type, r.created_at.date()))
        else:
            released.append(_packet_doc(root, r))
    return ScopedDocuments(tuple(released), tuple(withheld))


def _packet_doc(root: Path, r: Any) -> PacketDocument:
    return PacketDocument(
        id=r.id, doc_type=r.doc_type, date=r.created_at.date(), pages=int(r.pages), pdf=root / r.pdf_path
    )


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _load(session: Session, request_id: int) -> ReleaseRequestRow:
    row = session.get(ReleaseRequestRow, request_id)
    if row is None:
        raise NotFoundError(f"release request {request_id} not found")
    return row


def _clean(value: str, what: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise RequestError(f"{what} must not be empty")
    return text[:500]


def _request(row: ReleaseRequestRow) -> ReleaseRequest:
    return ReleaseRequest(
        id=row.id,
        patient_mrn=row.patient_mrn,
        requester=row.requester,
        address=row.address,
        purpose=row.purpose,
        basis=row.basis,
        received_on=row.received_on,
        due_on=row.due_on,
        extension_reason=row.extension_reason,
        status=row.status,
        status_reason=row.status_reason,
        scope=Scope(
            types=tuple(json.loads(row.scope_types or "[]")),
            date_from=row.scope_from,
            date_to=row.scope_to,
            documents=tuple(int(i) for i in json.loads(row.scope_documents or "[]")),
            include_restricted=bool(row.include_restricted),
        ),
        packet_sha256=row.packet_sha256,
        packet_pages=row.packet_pages,
        released_at=row.released_at,
        created_by=row.created_by,
    )
