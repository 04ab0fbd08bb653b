"""The failed folder: where an inbox file that could not be archived is kept,
byte for byte, beside a one-line reason.

The reason is written first under a hidden temporary name, then the file is moved
(renamed: never copied and changed), then the reason is renamed into place; a crash in
between is finished by the next quarantine. Names are shortened, keeping their
extension, so that ``<name>.error.txt`` still fits the 255-byte limit of file names.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from pathlib import Path

from chartclerk.errors import ArchiveError
from chartclerk.files import fsync_dir

log = logging.getLogger(__name__)

REASON_SUFFIX = ".error.txt"
_STAGED_SUFFIX = ".error.tmp"  # hidden: ".<name>.error.tmp"
_MAX_NAME_BYTES = 255
_KEEP_SUFFIX_BYTES = 16  # extensions longer than this are cut like the rest of the name
_STALE_SECONDS = 60.0


def quarantine(path: Path, failed_dir: Path, reason: str) -> Path:
    """Move ``path`` into ``failed_dir`` (never overwriting an earlier file of the
    same name) and write ``<name>.error.txt`` beside it. Returns the new path."""
    line = " ".join(reason.split()) or "unknown error"
    try:
        if not failed_dir.is_dir():
            failed_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            failed_dir.chmod(0o700)  # originals hold PHI; mkdir's mode is filtered by the umask
        finish_interrupted(failed_dir)
        target, shortened = _free_name(failed_dir, path.name)
        if shortened:
            line += f" (file name shortened from {len(os.fsencode(path.name))} bytes)"
        staged = failed_dir / f".{target.name}{_STAGED_SUFFIX}"
        _write_private(staged, line + "\n")
        _move(path, target)
        staged.replace(target.with_name(target.name + REASON_SUFFIX))
        fsync_dir(failed_dir)
    except OSError as e:
        raise ArchiveError(f"cannot move a failed file to {failed_dir}: {e.strerror or e}") from e
    log.warning("quarantined a file: %s", line[:120])
    return target


def finish_interrupted(failed_dir: Path) -> int:
    """Complete quarantines cut off between moving the file and naming its reason; drop
    reasons whose file never arrived (it is still in the inbox and will be taken again)."""
    finished = 0
    for staged in failed_dir.glob(f".*{_STAGED_SUFFIX}"):
        name = staged.name[1 : -len(_STAGED_SUFFIX)]
        moved, note = failed_dir / name, failed_dir / (name + REASON_SUFFIX)
        try:
            if os.path.lexists(moved) and not note.exists():
                staged.replace(note)
                finished += 1
            elif time.time() - staged.stat().st_mtime > _STALE_SECONDS:
                staged.unlink()
        except FileNotFoundError:
            continue
    return finished


def fit_name(name: str, budget: int) -> str:
    """``name`` cut to at most ``budget`` bytes (in the file system's encoding), keeping a
    short extension; undecodable bytes survive as they are."""
    raw = os.fsencode(name)
    if len(raw) <= budget:
        return name
    stem, dot, ext = raw.rpartition(b".")
    suffix = b"." + ext if dot and stem and len(ext) + 1 <= _KEEP_SUFFIX_BYTES else b""
    base = raw[: len(raw) - len(suffix)] if suffix else raw
    return os.fsdecode(base[: budget - len(suffix)] + suffix)


def _free_name(folder: Path, name: str) -> tuple[Path, bool]:
    """A name in ``folder`` used by no file and no reason, short enough for both."""
    budget = _MAX_NAME_BYTES - len(REASON_SUFFIX) - 1  # ".<name>.error.tmp" is one byte longer
    base = fit_name(name, budget)
    shortened = base != name
    counter = 0
    while True:
        if counter:
            stem, suffix = Path(base).stem, Path(base).suffix
            mark = f"-{counter}"
            candidate = fit_name(stem, budget - len(os.fsencode(mark + suffix))) + mark + suffix
        else:
            candidate = base
        target = folder / candidate
        if not os.path.lexists(target) and not os.path.lexists(folder / (candidate + REASON_SUFFIX)):
            return target, shortened
        counter += 1


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _move(source: Path, target: Path) -> None:
    """Rename (the file, or a symlink itself, unchanged); copy and delete only across file systems."""
    try:
        source.rename(target)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        shutil.move(source, target)
