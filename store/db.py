"""Database engine set-up and schema migrations.

SQLite connections get WAL journaling, a 30 s busy timeout and foreign keys.
The sqlite3 driver's own (legacy) transaction handling is switched off and
SQLAlchemy emits BEGIN itself, so every transaction, DDL included, is real;
engines made by :func:`write_engine` begin with ``BEGIN IMMEDIATE`` so a writer
takes the write lock up front (waiting out other writers under the busy
timeout) instead of failing when it upgrades a read lock.

Migrations are Alembic scripts in ``chartclerk/store/migrations``, run in code
(no alembic.ini): :func:`upgrade_schema` upgrades to head inside one write
transaction, so two processes opening the archive at once cannot both migrate.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chartclerk.errors import ArchiveError
from chartclerk.store.tables import FTS_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only when a migration may be needed: opening an up-to-date archive
# (every `search` and `list`) checks the revision with one SELECT instead.

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "chartclerk_write"
PG_TSV_COLUMN = "tsv"  # pages.tsv on PostgreSQL (migration 0011)
PG_TSV_INDEX = "ix_pages_tsv"  # replaced by PG_KEYS_INDEX in migration 0012
PG_SCOPE_COLUMN = "scope"  # pages.scope on PostgreSQL (migration 0012, kept by triggers)
PG_KEYS_INDEX = "ix_pages_keys"  # GIN on chartclerk_keys(tsv, scope) (migration 0012)
PG_IDENTS_INDEX = "ix_pages_idents"  # GIN on to_tsvector('simple', pages.idents) (migration 0011)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other backends and in-memory databases)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    if u.database.startswith("file:"):
        return None  # URI filenames: leave them to the user
    return Path(u.database)


def make_engine(url: str) -> Engine:
    """An engine whose connections are set up for the archive (see the module doc)."""
    engine = create_engine(url, hide_parameters=True)  # never put OCR text or MRNs in error messages
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def write_engine(engine: Engine) -> Engine:
    """The same engine (same pool), whose transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() not in ("wal", "memory"):
            log.warning("SQLite journal mode is %s, not WAL", mode[0] if mode else None)
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    write = bool(conn.get_execution_options().get(_WRITE_OPTION, False))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_sqlite_file(path: Path) -> None:
    """Create an empty database file readable by its owner only (0600) if it is missing.

    SQLite gives its -wal and -shm files the permissions of the database file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)


def include_in_autogenerate(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Keep the full-text indexes (made with raw SQL) out of autogenerate: SQLite's FTS5 table
    and its shadow tables, PostgreSQL's ``pages.tsv`` and ``pages.scope`` columns and the GIN
    indexes of its search."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    if (
        type_ == "column"
        and name == PG_SCOPE_COLUMN
        and getattr(getattr(obj, "table", None), "name", "") == "pages"
    ):
        return False
    return not (
        type_ in ("column", "index") and name in (PG_TSV_COLUMN, PG_TSV_INDEX, PG_IDENTS_INDEX, PG_KEYS_INDEX)
    )


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code: no alembic.ini is needed."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def newest_migration_file() -> str:
    """The revision id of the newest file in migrations/versions (named ``NNNN_*.py``,
    revision ``NNNN``): the head, known without importing Alembic."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _is_current(engine: Engine) -> bool:
    try:
        with engine.connect() as probe:
            row = probe.execute(text("SELECT version_num FROM alembic_version")).first()
    except SQLAlchemyError:
        return False  # no schema yet
    return row is not None and row[0] == newest_migration_file()


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest schema, in one (write-locked) transaction."""
    if _is_current(engine):
        return
    from alembic import command
    from alembic.util import CommandError

    head = head_revision()
    try:
        with engine.connect() as probe:
            if current_revision(probe) == head:
                return
        with write_engine(engine).begin() as connection:
            before = current_revision(connection)
            if before == head:
                return  # another process migrated while we waited for the lock
            config = alembic_config(engine.url.render_as_string(hide_password=False))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as e:
        # Typically a database written by a newer chartclerk (a revision this one does not know).
        raise ArchiveError(f"cannot upgrade the archive database schema: {_one_line(str(e))}") from e
    except SQLAlchemyError as e:
        raise ArchiveError(f"cannot upgrade the archive database schema: {db_error_message(e)}") from e
    log.info("archive schema upgraded from %s to %s", before or "empty", head)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on an exception.

    Database errors become ArchiveError (whose message never holds statement parameters)."""
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except SQLAlchemyError as e:
        raise ArchiveError(f"archive database error: {db_error_message(e)}") from e


def db_error_message(e: SQLAlchemyError) -> str:
    """The driver's first line (e.g. "FOREIGN KEY constraint failed"), without SQL or parameters."""
    orig = getattr(e, "orig", None)
    return _one_line(str(orig) if orig is not None else "") or type(e).__name__


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return " ".join(lines[0].split())[:200] if lines else ""
