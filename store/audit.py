"""The audit log: who read or changed which patient's records, when, and from where.

Every entry is one row of ``audit_log`` holding the user, the time (UTC, whole seconds), the
action (``search``, ``list``, ``show``, ``export``, ``file``, ``audit``...), what was read as
JSON (document ids, the query and filters), the MRNs touched, the origin (program, host, OS
user, ssh client) and two hashes: ``prev_hash``, the hash of the entry before it, and
``hash``, the SHA-256 of this entry's fields together with ``prev_hash``. Changing or deleting
an entry therefore breaks the chain at that point, which :func:`verify_chain` reports.

Entries are appended in a write transaction (SQLite's write lock, ``BEGIN IMMEDIATE``), so
concurrent processes extend one chain. On SQLite, triggers refuse UPDATE and DELETE on the
table, and the AUTOINCREMENT counter remembers the highest id ever written, so removing the
newest entries is noticed too. Someone able to rewrite the whole database file can rebuild a
consistent chain: every committed entry is therefore also checkpointed outside the database
(chartclerk.store.anchor), and ``chartclerk verify`` compares the two.

The log lives inside the archive (the PHI boundary) and holds search queries as typed; the
program's logs never get any of it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chartclerk.errors import ArchiveError
from chartclerk.store.anchor import note_write
from chartclerk.store.db import session_scope
from chartclerk.store.roster import normalize_mrn
from chartclerk.store.tables import AuditRow

log = logging.getLogger(__name__)

GENESIS = "0" * 64  # prev_hash of the first entry
_APPEND_ATTEMPTS = 5
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is reading: the user recorded in the log and where the access came from."""

    user: str
    origin: str


def current_actor(user: str | None = None, program: str = "chartclerk") -> Actor:
    """The OS user (or ``user`` when given, e.g. ``--user``) and an origin naming the program,
    the host, the OS user when it differs from ``user``, and the ssh client address if any."""
    os_user = _os_user()
    name = " ".join((user or "").split()) or os_user
    parts = [program, f"on {socket.gethostname()}"]
    if name != os_user:
        parts.append(f"as os user {os_user}")
    ssh = os.environ.get("SSH_CLIENT", "").split()
    if ssh:
        parts.append(f"via ssh from {ssh[0]}")
    return Actor(user=name[:128], origin=" ".join(parts)[:512])


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime
    user: str
    action: str
    target: Mapping[str, Any]
    patients: tuple[str, ...]
    origin: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "user": self.user,
            "action": self.action,
            "target": dict(self.target),
            "patients": list(self.patients),
            "origin": self.origin,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of checking the chain: ``problems`` is empty when it is intact."""

    entries: int
    head: str  # hash of the newest entry (GENESIS when the log is empty)
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def entry_hash(
    prev_hash: str,
    entry_id: int,
    at: dt.datetime,
    user: str,
    action: str,
    target: str,
    patients: str,
    origin: str,
) -> str:
    """SHA-256 over the previous hash and every field of the entry, as stored."""
    fields = [prev_hash, entry_id, utc_stamp(at), user, action, target, patients, origin]
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def append_entry(
    session: Session, actor: Actor, action: str, target: Mapping[str, Any], patients: Iterable[str | None]
) -> int:
    """Add one entry inside the caller's (write) transaction; returns its id."""
    last = session.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).first()
    entry_id, prev = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)  # whole seconds: every backend keeps them
    target_json = canonical_json(dict(target))
    patients_json = canonical_json(sorted({p.strip() for p in patients if p and p.strip()}))
    row = AuditRow(
        id=entry_id,
        at=at,
        user=actor.user,
        action=action,
        target=target_json,
        patients=patients_json,
        origin=actor.origin,
        prev_hash=prev,
        hash=entry_hash(prev, entry_id, at, actor.user, action, target_json, patients_json, actor.origin),
    )
    session.add(row)
    session.flush()
    note_write(session, "audit", entry_id, row.hash)  # checkpointed outside the database on commit
    return entry_id


def record_access(
    writer: Engine, actor: Actor, action: str, target: Mapping[str, Any], patients: Iterable[str | None]
) -> int:
    """Append one entry in its own write transaction. Raises ArchiveError when it cannot be
    written, so that callers show nothing they could not account for."""
    wanted = list(patients)
    for attempt in range(1, _APPEND_ATTEMPTS + 1):
        try:
            with session_scope(writer) as session:
                entry_id = append_entry(session, actor, action, target, wanted)
        except ArchiveError as e:
            # Two writers on a backend without SQLite's write lock took the same id: retry.
            if isinstance(e.__cause__, IntegrityError) and attempt < _APPEND_ATTEMPTS:
                continue
            raise ArchiveError(f"cannot write the audit log: {e.message}") from e
        log.debug("audit entry %d: %s", entry_id, action)
        return entry_id
    raise AssertionError("unreachable")


def read_entries(
    engine: Engine, *, patient: str | None = None, since: dt.datetime | None = None
) -> list[AuditEntry]:
    """Entries oldest first, optionally only those touching ``patient`` (an MRN, leading
    zeros optional) and those at or after ``since``."""
    query = select(AuditRow).order_by(AuditRow.id)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    wanted = normalize_mrn(patient) if patient is not None else None
    out: list[AuditEntry] = []
    with session_scope(engine) as session:
        for row in session.scalars(query.execution_options(yield_per=_BATCH)):
            entry = _entry(row)
            if wanted is None or any(normalize_mrn(mrn) == wanted for mrn in entry.patients):
                out.append(entry)
    return out


def verify_chain(engine: Engine) -> ChainReport:
    """Recompute every entry's hash and check each links to the one before it."""

    def recompute(row: AuditRow) -> str:
        return entry_hash(
            row.prev_hash, row.id, row.at, row.user, row.action, row.target, row.patients, row.origin
        )

    return walk_chain(engine, AuditRow, "audit", recompute)


def walk_chain(engine: Engine, table: Any, noun: str, recompute: Callable[[Any], str]) -> ChainReport:
    """The one check of a hash-chained, append-only log (the audit log; the disclosure log of
    chartclerk.store.disclosures): every entry present, linked to the one before it and
    unaltered (``recompute`` gives its hash from its fields); on SQLite, no newest entry
    deleted and the triggers that refuse UPDATE and DELETE still there."""
    problems: list[str] = []
    expected_id, prev, count = 1, GENESIS, 0
    with session_scope(engine) as session:
        for row in session.scalars(select(table).order_by(table.id).execution_options(yield_per=_BATCH)):
            count += 1
            if row.id != expected_id:
                problems.append(f"{noun} entries {expected_id}-{row.id - 1} are missing (deleted)")
            if row.prev_hash != prev:
                problems.append(f"{noun} entry {row.id} does not link to the entry before it")
            if recompute(row) != row.hash:
                problems.append(f"{noun} entry {row.id} was altered (its hash does not match)")
            expected_id, prev = row.id + 1, row.hash
        if engine.dialect.name == "sqlite":
            problems.extend(_sqlite_checks(session, table.__tablename__, noun, expected_id - 1))
    return ChainReport(entries=count, head=prev, problems=tuple(problems))


def _sqlite_checks(session: Session, table: str, noun: str, last_id: int) -> list[str]:
    problems: list[str] = []
    seq = session.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    if seq is not None and int(seq) > last_id:
        problems.append(f"{noun} entries {last_id + 1}-{int(seq)} are missing (the newest were deleted)")
    triggers = set(
        session.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}
        ).scalars()
    )
    missing = {f"{table}_no_update", f"{table}_no_delete"} - triggers
    if missing:
        problems.append(f"{noun} log append-only trigger(s) removed: {', '.join(sorted(missing))}")
    return problems


def _entry(row: AuditRow) -> AuditEntry:
    try:
        target = json.loads(row.target)
        patients = json.loads(row.patients)
    except ValueError:
        target, patients = {"unreadable": row.target}, []
    return AuditEntry(
        id=row.id,
        at=row.at,
        user=row.user,
        action=row.action,
        target=target if isinstance(target, dict) else {"value": target},
        patients=tuple(str(p) for p in patients) if isinstance(patients, list) else (),
        origin=row.origin,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def canonical_json(value: Any) -> str:
    """The one JSON form hashed by the audit and disclosure chains (chartclerk.store.disclosures)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def utc_stamp(at: dt.datetime) -> str:
    """A timestamp as the hash chains write it: UTC, to the second."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid {os.getuid()}"
