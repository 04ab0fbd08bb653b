"""``chartclerk verify``: is the archive whole, unchanged and private?

Checks, reporting every problem found (never stopping at the first):

* the database: SQLite's ``quick_check`` and ``foreign_key_check``;
* every source: its original is there, has its recorded size and SHA-256, and the source is
  complete (a ``partial`` one was cut off by a crash or failed mid-way: rerun ``ingest``);
* every document: its searchable PDF is there with its recorded SHA-256, and it has pages
  numbered 1..n;
* the full-text index (SQLite): one entry per page and none for pages that are gone, and
  FTS5's own integrity check of the index against the page text;
* every file under ``originals/`` and ``documents/`` belongs to a row, and ``tmp/`` is empty
  (only when no other process has the archive open: a running ingest has such files in
  flight);
* nothing in the archive is readable by group or others (folders 0700, files 0600);
* the audit log's and the disclosure log's hash chains, and that each chain still holds the
  entry of its newest checkpoint outside the database (chartclerk.store.anchor), so that a
  database rewritten with a consistent chain is caught.

Problems name archive-relative paths (content hashes), document ids and source hash prefixes,
never file names or patient data.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from chartclerk.files import sha256_file
from chartclerk.store.anchor import Anchor, anchor_for
from chartclerk.store.audit import verify_chain
from chartclerk.store.db import db_error_message, session_scope, sqlite_file
from chartclerk.store.disclosures import verify_disclosures
from chartclerk.store.recovery import LOCK_NAME, ArchiveLock
from chartclerk.store.tables import FTS_TABLE, AuditRow, DisclosureRow, DocumentRow, PageRow, SourceRow

_TOP_FOLDERS = ("originals", "documents", "tmp", "releases")  # releases: packets made by the web app


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # database, missing, size, hash, incomplete, pages, index, orphan, permissions, audit
    subject: str  # "document 7", "source 1a2b3c4d5e6f", "documents/1a/....pdf"
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    sources: int
    documents: int
    pages: int
    files_hashed: int
    audit_entries: int
    audit_head: str
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]  # checks skipped and why

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(root: Path, engine: Engine, lock: ArchiveLock) -> VerifyReport:
    problems: list[Problem] = []
    notes: list[str] = []
    problems += _check_database(engine)
    source_paths, n_sources, hashed = _check_sources(root, engine, problems)
    document_paths, n_documents, more = _check_documents(root, engine, problems)
    hashed += more
    n_pages = _check_pages(engine, problems)
    if engine.dialect.name == "sqlite":
        problems += _check_index(engine)
    with lock.exclusive() as alone:
        if alone:
            problems += _check_files(root, source_paths | document_paths)
        else:
            notes.append("orphan check skipped: another chartclerk process has the archive open")
    problems += _check_permissions(root, engine)
    chain = verify_chain(engine)
    problems += [Problem("audit", "audit log", p) for p in chain.problems]
    disclosed = verify_disclosures(engine)
    problems += [Problem("disclosures", "disclosure log", p) for p in disclosed.problems]
    anchor = anchor_for(engine)
    if anchor is None:
        notes.append("no checkpoint folder configured: chains not compared with their checkpoints")
    else:
        counts = {"audit": chain.entries, "disclosures": disclosed.entries}
        problems += _check_anchor(anchor, engine, counts, notes)
    return VerifyReport(
        sources=n_sources,
        documents=n_documents,
        pages=n_pages,
        files_hashed=hashed,
        audit_entries=chain.entries,
        audit_head=chain.head,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _check_anchor(anchor: Anchor, engine: Engine, counts: dict[str, int], notes: list[str]) -> list[Problem]:
    """Each chain's newest checkpoint must still be in the database with the same hash."""
    problems: list[Problem] = []
    try:
        latest, bad = anchor.latest()
    except FileNotFoundError:
        latest, bad = {}, 0
    except OSError as e:
        return [Problem("anchor", anchor.path.name, f"cannot read the checkpoint file: {e.strerror or e}")]
    if bad:
        problems.append(Problem("anchor", anchor.path.name, f"{bad} unreadable checkpoint lines"))
    tables: dict[str, type[AuditRow] | type[DisclosureRow]] = {
        "audit": AuditRow,
        "disclosures": DisclosureRow,
    }
    with session_scope(engine) as session:
        for chain, table in tables.items():
            point = latest.get(chain)
            if point is None:
                if counts[chain]:
                    problems.append(
                        Problem(
                            "anchor",
                            f"{chain} log",
                            f"{counts[chain]} entries but no checkpoint in {anchor.path} "
                            "(the checkpoint file was removed or replaced)",
                        )
                    )
                continue
            stored = session.execute(select(table.hash).where(table.id == point.entry_id)).scalar()
            if stored is None:
                problems.append(
                    Problem("anchor", f"{chain} log", f"entry {point.entry_id} is checkpointed but missing")
                )
            elif stored != point.head:
                problems.append(
                    Problem(
                        "anchor",
                        f"{chain} log",
                        f"entry {point.entry_id} has hash {stored[:12]}..., checkpointed "
                        f"{point.head[:12]}... (the database was rewritten)",
                    )
                )
            newest = session.execute(select(func.max(table.id))).scalar() or 0
            if newest > point.entry_id:
                notes.append(
                    f"{chain} entries {point.entry_id + 1}-{newest} were written after the last checkpoint"
                )
    return problems


def _check_database(engine: Engine) -> list[Problem]:
    if engine.dialect.name != "sqlite":
        return []
    problems: list[Problem] = []
    try:
        with engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
            if rows != ["ok"]:
                problems += [Problem("database", "sqlite", r[:200]) for r in rows[:20]]
            for table, rowid, parent, _ in conn.exec_driver_sql("PRAGMA foreign_key_check").all()[:20]:
                problems.append(
                    Problem("database", f"{table} row {rowid}", f"refers to a missing {parent} row")
                )
    except SQLAlchemyError as e:
        problems.append(Problem("database", "sqlite", db_error_message(e)))
    return problems


def _check_file(root: Path, rel: str, sha: str, subject: str, problems: list[Problem]) -> bool:
    """True when the file was hashed (it exists and lies inside the archive)."""
    path = root / rel
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside or path.is_symlink():
        problems.append(Problem("missing", subject, f"{rel} is not a file inside the archive"))
        return False
    try:
        actual = sha256_file(path)
    except FileNotFoundError:
        problems.append(Problem("missing", subject, f"{rel} is missing"))
        return False
    except OSError as e:
        problems.append(Problem("missing", subject, f"{rel} cannot be read: {e.strerror or e}"))
        return False
    if actual != sha:
        problems.append(
            Problem("hash", subject, f"{rel} has SHA-256 {actual[:12]}..., recorded {sha[:12]}...")
        )
    return True


def _check_sources(root: Path, engine: Engine, problems: list[Problem]) -> tuple[set[str], int, int]:
    paths: set[str] = set()
    count = hashed = 0
    query = select(SourceRow.sha256, SourceRow.stored_path, SourceRow.size, SourceRow.status)
    with session_scope(engine) as session:
        rows = session.execute(query.order_by(SourceRow.created_at)).all()
    for sha, rel, size, status in rows:
        count += 1
        paths.add(rel)
        subject = f"source {sha[:12]}"
        if status != "complete":
            problems.append(
                Problem("incomplete", subject, "not all its documents are in (rerun ingest on it)")
            )
        hashed += _check_file(root, rel, sha, subject, problems)
        with contextlib.suppress(OSError):
            actual = (root / rel).stat().st_size
            if actual != size:
                problems.append(Problem("size", subject, f"{rel} is {actual} bytes, recorded {size}"))
    return paths, count, hashed


def _check_documents(root: Path, engine: Engine, problems: list[Problem]) -> tuple[set[str], int, int]:
    paths: set[str] = set()
    count = hashed = 0
    query = select(DocumentRow.id, DocumentRow.pdf_path, DocumentRow.pdf_sha256).order_by(DocumentRow.id)
    with session_scope(engine) as session:
        rows = session.execute(query).all()
    for doc_id, rel, sha in rows:
        count += 1
        paths.add(rel)
        hashed += _check_file(root, rel, sha, f"document {doc_id}", problems)
    return paths, count, hashed


def _check_pages(engine: Engine, problems: list[Problem]) -> int:
    query = (
        select(DocumentRow.id, func.count(PageRow.id), func.min(PageRow.number), func.max(PageRow.number))
        .outerjoin(PageRow, PageRow.document_id == DocumentRow.id)
        .group_by(DocumentRow.id)
        .order_by(DocumentRow.id)
    )
    total = 0
    with session_scope(engine) as session:
        for doc_id, count, low, high in session.execute(query):
            total += count
            if count == 0:
                problems.append(Problem("pages", f"document {doc_id}", "has no pages"))
            elif (low, high) != (1, count):
                problems.append(Problem("pages", f"document {doc_id}", f"pages are not numbered 1..{count}"))
    return total


def _check_index(engine: Engine) -> list[Problem]:
    problems: list[Problem] = []
    with session_scope(engine) as session:
        pages = {row[0]: row[1] for row in session.execute(select(PageRow.id, PageRow.document_id))}
        indexed = set(session.execute(text(f"SELECT id FROM {FTS_TABLE}_docsize")).scalars())
    for page_id in sorted(set(pages) - indexed)[:50]:
        problems.append(Problem("index", f"document {pages[page_id]}", f"page row {page_id} is not indexed"))
    stale = indexed - set(pages)
    if stale:
        problems.append(
            Problem("index", "full-text index", f"{len(stale)} entries for pages that do not exist")
        )
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
    except SQLAlchemyError as e:
        problems.append(
            Problem("index", "full-text index", f"does not match the page text ({db_error_message(e)})")
        )
    return problems


def _check_files(root: Path, referenced: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for folder in ("originals", "documents"):
        for path in _walk(root / folder):
            rel = path.relative_to(root).as_posix()
            if rel not in referenced:
                problems.append(Problem("orphan", rel, "belongs to no source or document"))
    for path in _walk(root / "tmp"):
        problems.append(Problem("orphan", path.relative_to(root).as_posix(), "leftover temporary file"))
    return problems


def _check_permissions(root: Path, engine: Engine) -> list[Problem]:
    problems: list[Problem] = []

    def check(path: Path, folder: bool) -> None:
        try:
            st = path.lstat()
        except OSError:
            return
        if stat.S_IMODE(st.st_mode) & 0o077:
            want = "0700" if folder else "0600"
            problems.append(
                Problem(
                    "permissions", _shown(root, path), f"mode {stat.S_IMODE(st.st_mode):04o}, expected {want}"
                )
            )

    check(root, True)
    for top in _TOP_FOLDERS:
        for base, _dirs, files in os.walk(root / top, followlinks=False):
            check(Path(base), True)
            for name in files:
                check(Path(base) / name, False)
    db = sqlite_file(engine.url.render_as_string(hide_password=False))
    if db is not None:
        for extra in ("", "-wal", "-shm"):
            check(Path(f"{db}{extra}"), False)
    check(root / LOCK_NAME, False)
    return problems


def _shown(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.name


def _walk(folder: Path) -> Iterator[Path]:
    for base, _dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(files):
            yield Path(base) / name
