"""Throwaway PostgreSQL and Redis servers for tests and benchmarks (Debian's `postgresql` and
`redis-server` packages; `make test` installs them).

PostgreSQL: ``initdb`` refuses to run as root, so as root the cluster is made and run by the
``postgres`` user (``runuser``) in a temporary folder it owns; it listens on a unix socket in
that folder only (no TCP), with trust authentication. Redis: a unix socket, persistence off.
Both are stopped (and their folders removed) by ``stop()``. A missing package is an error,
never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "RedisServer", "postgres_only", "sqlite_only"]

# For a test of SQLite's own machinery (FTS5 shadow tables, PRAGMAs) in a module whose archive
# runs on both databases: the `database_url` fixture with its SQLite value only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# For a test of PostgreSQL's own search machinery (migration 0012's key index): its PostgreSQL value.
postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

_START_TIMEOUT = 60.0


def _pg_bin(tool: str) -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {tool} is missing: apt-get install postgresql (make test does)")
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a temporary folder; :meth:`create_database` makes fresh databases."""

    folder: Path
    port: int = 5432

    @classmethod
    def start(cls) -> PostgresServer:
        folder = Path(tempfile.mkdtemp(prefix="chartclerk-pg-"))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        folder.chmod(0o755)  # the socket's folder must be reachable by the test process
        data = folder / "data"
        subprocess.run(
            _as_postgres(
                [str(_pg_bin("initdb")), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
                + ["--locale=C.UTF-8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            timeout=_START_TIMEOUT,
        )
        options = (
            f"-k {folder} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_postgres(
                [str(_pg_bin("pg_ctl")), "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w"]
                + ["-t", str(int(_START_TIMEOUT)), "start"]
            ),
            check=True,
            capture_output=True,
            timeout=_START_TIMEOUT + 5,
        )
        return cls(folder)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.folder}&port={self.port}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [str(_pg_bin("psql")), "-h", str(self.folder), "-U", "postgres", "-d", database]
            + ["-v", "ON_ERROR_STOP=1", "-Atc", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                [str(_pg_bin("pg_ctl")), "-D", str(self.folder / "data"), "-m", "immediate", "stop"]
            ),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class RedisServer:
    """redis-server on a unix socket in a temporary folder, persistence off."""

    folder: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server (make test does)")
        folder = Path(tempfile.mkdtemp(prefix="chartclerk-redis-"))
        socket = folder / "redis.sock"
        process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700"]
            + ["--save", "", "--appendonly", "no", "--dir", str(folder), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        return cls(folder, process)

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    def url(self, db: int = 0) -> str:
        return f"redis+socket://{self.socket}?virtual_host={db}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
