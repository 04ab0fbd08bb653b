"""Uploads from the web page go through the inbox's own pipeline (``handle_inbox_file``), one
file at a time on a background thread, and the page polls their progress and outcome.

A file is checked before it is queued: its name is reduced to a safe one, its size is bounded
(``web.max_upload_mb``) and its first bytes must be those of a PDF, TIFF, PNG or JPEG (the
types the inbox reads). It is staged in ``<inbox's parent>/uploads`` (0700); once read, it is
removed (archived, duplicate) or moved to the failed folder with its reason, exactly as a file
dropped in the inbox. The upload and its documents are recorded in the audit log under the
user who uploaded. Jobs are kept in memory (the newest 200); a restart forgets the list, not
the documents.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from fastapi import UploadFile

from chartclerk.errors import ArchiveError, ChartclerkError, InputFileError
from chartclerk.settings import Settings
from chartclerk.store import Archive

if TYPE_CHECKING:
    from chartclerk.web.app import WebState

__all__ = ["UploadJob", "Uploads", "check_upload", "queue_uploads", "safe_name"]

log = logging.getLogger(__name__)

Status = Literal["queued", "reading", "archived", "duplicate", "failed"]
_KEEP = 200
_MAGIC = {
    ".pdf": (b"%PDF-",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True, slots=True)
class UploadJob:
    id: int
    user: str
    name: str
    size: int
    status: Status = "queued"
    pages: int = 0
    pages_done: int = 0
    documents: tuple[int, ...] = ()
    review: int = 0  # documents of it that went to review
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "status": self.status,
            "pages": self.pages,
            "pages_done": self.pages_done,
            "documents": list(self.documents),
            "review": self.review,
            "error": self.error,
        }


def safe_name(name: str) -> str:
    """The file's own name (no folders), with only letters, digits, '.', '_', '-', ' '."""
    base = re.split(r"[\\/]", name or "")[-1].strip().lstrip(".")
    cleaned = _UNSAFE.sub("_", base)[-100:].strip()
    return cleaned or "upload"


def check_upload(name: str, head: bytes) -> str:
    """The upload's lower-case suffix when its name and first bytes say PDF, TIFF, PNG or JPEG;
    InputFileError otherwise."""
    suffix = Path(name).suffix.lower()
    magic = _MAGIC.get(suffix)
    if magic is None:
        raise InputFileError("not a scan: upload PDF, TIFF, PNG or JPEG files")
    if not any(head.startswith(m) for m in magic):
        raise InputFileError(f"the file's content is not {suffix[1:].upper()}")
    return suffix


@dataclass
class _Progress:
    """chartclerk.pipeline.Progress, updating the job as pages are read."""

    uploads: Uploads
    job_id: int
    counts: list[int] = field(default_factory=lambda: [0, 0])

    def pages_added(self, count: int) -> None:
        self.counts[0] += count
        self.uploads._update(self.job_id, pages=self.counts[0])

    def page_done(self) -> None:
        self.counts[1] += 1
        self.uploads._update(self.job_id, pages_done=self.counts[1])

    def file_done(self, outcome: Any) -> None:
        pass


class Uploads:
    """The queue of uploaded files and the thread that archives them."""

    def __init__(self, settings: Settings, make_executor: Callable[[], Executor]) -> None:
        self._settings = settings
        self._make_executor = make_executor
        self._executor: Executor | None = None
        self._jobs: OrderedDict[int, UploadJob] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._queue: queue.Queue[tuple[int, Path, Archive] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.staging = settings.inbox.parent / "uploads"

    def submit(self, archive: Archive, user: str, name: str, data: BinaryIO, size: int) -> UploadJob:
        """Stage a checked upload and queue it; ``archive`` reads and writes as the user."""
        name = safe_name(name)
        check_upload(name, data.read(16))
        data.seek(0)
        job = UploadJob(next(self._ids), user, name, size)
        if not self.staging.is_dir():
            self.staging.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.staging.chmod(0o700)
        folder = self.staging / f"{job.id:06d}-{secrets.token_hex(4)}"  # the file keeps its own name
        path = folder / name
        try:
            folder.mkdir(mode=0o700)
            with path.open("xb") as out:
                while chunk := data.read(1 << 20):
                    out.write(chunk)
            path.chmod(0o600)
        except OSError as e:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()
            raise ArchiveError(f"cannot stage the upload: {e.strerror or e}") from e
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > _KEEP:
                self._jobs.popitem(last=False)
        self._start()
        self._queue.put((job.id, path, archive))
        log.info("upload %d queued (%d bytes)", job.id, size)
        return job

    def jobs(self, user: str) -> list[UploadJob]:
        """This user's uploads, newest first."""
        with self._lock:
            return [j for j in reversed(self._jobs.values()) if j.user == user]

    def _update(self, job_id: int, **changes: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chartclerk-uploads", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from chartclerk.pipeline import handle_inbox_file

        while (item := self._queue.get()) is not None:
            job_id, path, archive = item
            self._update(job_id, status="reading")
            try:
                if self._executor is None:
                    self._executor = self._make_executor()
                outcome = handle_inbox_file(
                    path, self._settings, archive, self._executor, _Progress(self, job_id)
                )
                ids = tuple(d.id for d in outcome.documents)
                review = sum(d.status == "review" for d in outcome.documents)
                self._update(job_id, status=outcome.status, documents=ids, review=review, error=outcome.error)
                archive.record_access("upload", {"documents": list(ids), "outcome": outcome.status}, [])
            except ChartclerkError as e:
                self._update(job_id, status="failed", error=e.message)
            except Exception as e:  # noqa: BLE001 - one bad upload never stops the queue
                log.exception("upload %d crashed", job_id)
                self._update(job_id, status="failed", error=f"internal error ({type(e).__name__})")
            finally:
                with contextlib.suppress(OSError):  # empty now: archived files are removed, failed ones moved
                    path.parent.rmdir()
            log.info("upload %d done", job_id)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


MAX_FILES = 20  # files taken from one upload request


def queue_uploads(
    state: WebState, archive: Archive, user: str, files: list[UploadFile]
) -> tuple[list[UploadJob], list[str]]:
    """Queue each acceptable file of an upload request; the others as "name: why"."""
    limit = state.settings.web.max_upload_mb * 1024 * 1024
    jobs: list[UploadJob] = []
    refused: list[str] = []
    for item in files[:MAX_FILES]:
        size = item.size if item.size is not None else 0
        try:
            if size > limit:
                raise InputFileError(f"larger than {state.settings.web.max_upload_mb} MB")
            if size == 0:
                raise InputFileError("empty file")
            jobs.append(state.uploads.submit(archive, user, item.filename or "", item.file, size))
        except InputFileError as e:
            refused.append(f"{safe_name(item.filename or '')}: {e.message}")
    refused.extend(
        f"{safe_name(f.filename or '')}: more than {MAX_FILES} files at once" for f in files[MAX_FILES:]
    )
    return jobs, refused
