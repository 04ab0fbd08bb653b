"""Finishing what a crash interrupted, safely while other chartclerk processes run.

Every process that opens the archive holds a shared lock (``flock``) on ``<archive>/.lock``;
the kernel drops it when the process dies, even by SIGKILL. Leftovers of a crash can only be
told from the work of a live process when no other process holds the archive open, so
:func:`recover_archive` runs only when its lock can be made exclusive (otherwise it skips,
and the next process alone in the archive cleans up). It removes:

* everything in ``tmp/`` (workers' page PDFs, staged document PDFs), after putting back a
  document PDF whose metadata rewrite (``file``) was cut off before its transaction;
* half-written copies (``.<name>.<random>.tmp``) under ``originals/`` and ``documents/``;
* document PDFs no database row points to: renamed into place by a transaction that never
  committed, or replaced by a later rewrite. They are derived data, remade from the original.

It never removes an original: an original without a row is adopted by the next ingest of
that file (the copy is verified by its SHA-256) and reported by ``chartclerk verify``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from chartclerk.errors import ArchiveError
from chartclerk.files import sha256_file
from chartclerk.store.db import session_scope
from chartclerk.store.tables import DocumentRow

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
_BACKUP_SUFFIX = ".bak"  # Archive._backup: <pdf name>.<32 hex>.bak in tmp/


class ArchiveLock:
    """The shared lock a process holds while it has the archive open."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, root: Path) -> ArchiveLock:
        try:
            fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise ArchiveError(f"cannot open the archive lock file: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError as e:
            os.close(fd)
            raise ArchiveError(f"cannot lock the archive: {e.strerror or e}") from e
        return cls(fd)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Yields True, holding the lock exclusively, when no other process has the archive
        open; yields False (changing nothing) otherwise. The shared lock is held again after."""
        if self._fd is None:
            raise ArchiveError("the archive is closed")
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_SH)  # a failed conversion may have dropped it
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the lock
            self._fd = None


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    ran: bool  # False: another process had the archive open, nothing was touched
    removed_temporary: int = 0  # tmp/ entries and half-written copies
    removed_orphan_pdfs: int = 0
    restored_pdfs: int = 0  # document PDFs put back from a rewrite's backup


def recover_archive(root: Path, engine: Engine, lock: ArchiveLock) -> RecoveryReport:
    """Clean up after crashed processes (see the module doc) when alone in the archive."""
    with lock.exclusive() as alone:
        if not alone:
            log.info("archive in use by another process: crash leftovers are left for later")
            return RecoveryReport(ran=False)
        referenced = _document_paths(engine)
        restored = _restore_backups(root, engine)
        removed = _clear_tmp(root / "tmp")
        orphans = 0
        for folder in ("originals", "documents"):
            for path in _files_under(root / folder):
                if path.name.startswith(".") and path.name.endswith(".tmp"):
                    removed += _unlink(path)
                elif folder == "documents" and path.relative_to(root).as_posix() not in referenced:
                    orphans += _unlink(path)
    report = RecoveryReport(True, removed, orphans, restored)
    if removed or orphans or restored:
        log.warning(
            "recovered after a crash: %d temporary files removed, %d orphan PDFs removed, %d PDFs restored",
            removed,
            orphans,
            restored,
        )
    return report


def _document_paths(engine: Engine) -> set[str]:
    with session_scope(engine) as session:
        return set(session.scalars(select(DocumentRow.pdf_path)))


def _restore_backups(root: Path, engine: Engine) -> int:
    """A ``file`` (re-assignment) rewrites a document PDF in place after hard-linking the old
    one into tmp/; killed before its transaction committed, the database still describes the
    old PDF: put it back."""
    restored = 0
    tmp = root / "tmp"
    for backup in sorted(tmp.glob(f"*{_BACKUP_SUFFIX}")) if tmp.is_dir() else []:
        name = backup.name[: -len(_BACKUP_SUFFIX)].rsplit(".", 1)[0]  # <pdf name>
        rel = f"documents/{name[:2]}/{name}"
        with session_scope(engine) as session:
            expected = session.scalar(select(DocumentRow.pdf_sha256).where(DocumentRow.pdf_path == rel))
        current = root / rel
        try:
            if (
                expected is not None
                and (not current.is_file() or sha256_file(current) != expected)
                and sha256_file(backup) == expected
            ):
                backup.replace(current)
                restored += 1
        except OSError as e:
            raise ArchiveError(f"cannot restore {rel}: {e.strerror or e}") from e
    return restored


def _clear_tmp(tmp: Path) -> int:
    removed = 0
    if not tmp.is_dir():
        return 0
    for entry in tmp.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        else:
            removed += _unlink(entry)
    return removed


def _files_under(folder: Path) -> Iterator[Path]:
    for base, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            yield Path(base) / name


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as e:
        raise ArchiveError(f"cannot remove a leftover file: {e.strerror or e}") from e
    return 1
