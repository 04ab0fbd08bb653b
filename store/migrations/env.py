"""Alembic environment. Run in code by ``chartclerk.store.db.upgrade_schema``, which passes an
open connection (already inside a transaction) as ``config.attributes["connection"]``;
without one, a connection is made from the ``sqlalchemy.url`` option."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from chartclerk.store.db import include_in_autogenerate
from chartclerk.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        include_object=include_in_autogenerate,
        # chartclerk.store.db emits a real BEGIN on SQLite, so DDL is transactional there too.
        transactional_ddl=True if sqlite else None,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: no connection and no sqlalchemy.url given")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
