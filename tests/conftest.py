"""Shared fixtures: a fresh archive per test, synthetic patients, a serial executor, and the
throwaway PostgreSQL and Redis servers of the tests that run on them (tests/services.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chartclerk.classify import Patient
from chartclerk.settings import Settings, load_settings
from chartclerk.store import Archive
from chartclerk.tests.scans import FakePatient, make_roster
from chartclerk.tests.services import PostgresServer, RedisServer
from chartclerk.workers import SerialExecutor


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "config.yaml"
    config.write_text("inbox: inbox\narchive: archive\ndatabase: null\nworkers: 1\n", encoding="utf-8")
    return load_settings(config)


@pytest.fixture
def roster() -> list[FakePatient]:
    return make_roster(40, seed=7)


@pytest.fixture
def archive(settings: Settings, roster: list[FakePatient]) -> Iterator[Archive]:
    with Archive.open(settings) as opened:
        opened.import_patients(Patient(p.mrn, p.last, p.first, p.dob, p.sex) for p in roster)
        yield opened


@pytest.fixture
def serial() -> SerialExecutor:
    return SerialExecutor()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole run (started on first use), removed at the end."""
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the whole run (started on first use), removed at the end."""
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The archive database of a test that runs on both backends: None (SQLite in the archive
    folder) or a fresh PostgreSQL database. ``@sqlite_only`` (tests/services.py) narrows it."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()
