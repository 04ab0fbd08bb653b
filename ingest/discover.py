"""Which files are scans to take: the name rules shared by the inbox watcher and
`chartclerk ingest`, and the expansion of the paths given to the latter."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

# File names written by scanners, browsers, editors and OS shells while a file is
# still incomplete, or as clutter beside real files. Compared case-insensitively.
# (Names starting with "." also cover "._foo" AppleDouble files and ".~lock.foo#".)
_IGNORED_PREFIXES = (".", "~$")
_IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".swp", ".error.txt")
_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})
# Folders that hold copies or metadata, not new scans: NAS thumbnail/recycle/snapshot
# folders, and hidden folders (.stversions, .Trash-1000, NetApp .snapshot...).
_IGNORED_DIRS = frozenset({"@eadir", "#recycle", "#snapshot", "~snapshot", "$recycle.bin"})


def is_ignored_name(name: str) -> bool:
    """True for temporary, partial, hidden or OS-clutter file names."""
    lower = name.lower()
    return name.startswith(_IGNORED_PREFIXES) or lower.endswith(_IGNORED_SUFFIXES) or lower in _IGNORED_NAMES


def is_ignored_dir(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_DIRS


def discover_files(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> Iterator[Path]:
    """Each named file as given (inspection reports what is wrong with it), and the
    regular, non-ignored files below each named folder, recursively, in name order.
    Symbolic links inside folders are not followed, and folders in ``exclude`` (the
    archive itself) are never entered."""
    skip = {p.resolve() for p in exclude}
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            yield from _walk(path, skip)
        else:
            yield path


def _walk(folder: Path, skip: set[Path]) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        if Path(root).resolve() in skip:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not is_ignored_dir(d) and (Path(root) / d).resolve() not in skip)
        for name in sorted(files):
            path = Path(root) / name
            if not is_ignored_name(name) and path.is_file() and not path.is_symlink():
                yield path
