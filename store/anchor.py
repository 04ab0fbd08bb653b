"""Checkpoints of the hash chains, kept outside the database.

The audit log and the disclosure log are hash chains inside the database: an entry changed or
removed breaks them. Someone able to rewrite the whole database file could still rebuild a
consistent chain. So every committed write appends a checkpoint line to a file in another
folder (``release.anchor_dir``, ideally on another disk or an append-only mount)::

    2026-11-28T09:41:07Z audit 1234 3f5a...e1   (time, chain, entry id, that entry's hash)

``chartclerk verify`` reads the newest checkpoint of each chain and checks that the database
still holds that entry with that hash; a rewritten database cannot match it without knowing
the file. Entries written after the newest checkpoint (a crash between commit and checkpoint)
are reported as a note. One file per database (named by a hash of its URL), mode 0600.

Writes are hooked to the SQLAlchemy session's commit: the chain modules call
:func:`note_write` inside their transaction and the line is appended once it is committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHAINS = ("audit", "disclosures")
_INFO_KEY = "chartclerk_anchor_writes"
_registry: dict[str, Anchor] = {}
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    chain: str
    entry_id: int
    head: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """The checkpoint file of one database."""

    path: Path

    @classmethod
    def for_engine(cls, folder: Path, engine: Engine) -> Anchor:
        url = engine.url.render_as_string(hide_password=False)
        name = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        return cls(folder / f"chains-{name}.anchors")

    def append(self, checkpoints: list[Checkpoint]) -> None:
        """Append one line per checkpoint and fsync (O_APPEND: concurrent writers interleave lines)."""
        at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = "".join(f"{at} {c.chain} {c.entry_id} {c.head}\n" for c in checkpoints).encode("ascii")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def latest(self) -> tuple[dict[str, Checkpoint], int]:
        """The newest checkpoint of each chain (highest entry id) and the count of unreadable lines.

        Raises FileNotFoundError when there is no checkpoint file."""
        newest: dict[str, Checkpoint] = {}
        bad = 0
        with self.path.open("r", encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) != 4 or parts[1] not in CHAINS or not parts[2].isdigit() or len(parts[3]) != 64:
                    bad += 1
                    continue
                point = Checkpoint(parts[1], int(parts[2]), parts[3])
                old = newest.get(point.chain)
                if old is None or point.entry_id >= old.entry_id:
                    newest[point.chain] = point
        return newest, bad


def register_anchor(engine: Engine, folder: Path | None) -> Anchor | None:
    """Checkpoint every chain write committed through ``engine`` (and engines sharing its URL)."""
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        if folder is None:
            _registry.pop(key, None)
            return None
        anchor = Anchor.for_engine(folder, engine)
        _registry[key] = anchor
        return anchor


def anchor_for(engine: Engine) -> Anchor | None:
    with _lock:
        return _registry.get(engine.url.render_as_string(hide_password=False))


def note_write(session: Session, chain: str, entry_id: int, head: str) -> None:
    """Called inside the write transaction; the checkpoint is appended after the commit."""
    pending: dict[str, Checkpoint] = session.info.setdefault(_INFO_KEY, {})
    pending[chain] = Checkpoint(chain, entry_id, head)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: dict[str, Checkpoint] | None = session.info.pop(_INFO_KEY, None)
    if not pending:
        return
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        bind = bind.engine
    anchor = anchor_for(bind)
    if anchor is None:
        return
    try:
        anchor.append(list(pending.values()))
    except OSError as e:
        # The entry is committed; verify will report the missing checkpoint.
        log.error("cannot write the chain checkpoint file %s: %s", anchor.path, e.strerror or e)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: object) -> None:
    session.info.pop(_INFO_KEY, None)
