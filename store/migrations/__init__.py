"""Alembic migrations of the archive database, run in code by ``chartclerk.store.db.upgrade_schema``
when the archive is opened (no alembic.ini).

A new migration: ``alembic.command.revision(chartclerk.store.db.alembic_config(url), "message",
autogenerate=True, rev_id="0002")`` against a database at the current head, then review the
script. On SQLite use ``op.batch_alter_table`` for column changes (``render_as_batch`` is on), and
keep ``pages_fts`` (raw SQL, SQLite only) in mind when touching ``pages``.
"""
