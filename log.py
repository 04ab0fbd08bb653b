"""Logging: every record carries the current document tag (a short hash, never a
name); only the entry point configures handlers."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_current: contextvars.ContextVar[str] = contextvars.ContextVar("chartclerk_doc", default="-")


@contextlib.contextmanager
def document_context(tag: str) -> Iterator[None]:
    """Attach ``tag`` (a sha256 prefix, a document id) to log records inside."""
    token = _current.set(tag)
    try:
        yield
    finally:
        _current.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.doc = _current.get()
        return True


def configure_logging(verbosity: int = 0) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(doc)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("watchdog", "alembic", "PIL", "pikepdf"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
