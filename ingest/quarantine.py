"""The failed folder: where an inbox file that could not be archived is kept,
byte for byte, beside a one-line reason."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def quarantine(path: Path, failed_dir: Path, reason: str) -> Path:
    """Move ``path`` into ``failed_dir`` (never overwriting an earlier file of the
    same name) and write ``<name>.error.txt`` beside it. Returns the new path."""
    failed_dir.mkdir(parents=True, exist_ok=True)
    target = failed_dir / path.name
    counter = 1
    while target.exists() or target.with_name(target.name + ".error.txt").exists():
        target = failed_dir / f"{path.stem}-{counter}{path.suffix}"
        counter += 1
    target.with_name(target.name + ".error.txt").write_text(" ".join(reason.split()) + "\n", encoding="utf-8")
    shutil.move(path, target)
    log.warning("quarantined a file: %s", " ".join(reason.split())[:120])
    return target
