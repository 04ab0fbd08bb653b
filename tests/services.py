"""Throwaway PostgreSQL and Redis servers for tests and benchmarks (Debian's `postgresql` and
`redis-server` packages; `make test` installs them).

PostgreSQL: ``initdb`` refuses to run as root, so as root the cluster is made and run by the
``postgres`` user (``runuser``) in a temporary folder it owns; it listens on a unix socket in
that folder only (no TCP), with trust authentication. Redis: a unix socket, persistence off (or on,
for a test that restarts it).
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

__all__ = ["NetNamespace", "PostgresServer", "RedisServer", "postgres_only", "sqlite_only"]

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
    host: str | None = None  # also listening on this TCP address (trusting its /30 network)

    @classmethod
    def start(cls, *, listen: str | None = None) -> PostgresServer:
        """``listen``: an IPv4 address to listen on besides the socket (a test's veth link)."""
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
        addresses = listen or ""
        if listen is not None:
            with (data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
                hba.write(f"host all all {listen}/30 trust\n")
        options = (
            f"-k {folder} -c listen_addresses='{addresses}' -c fsync=off -c full_page_writes=off"
            " -c max_connections=200"
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
        return cls(folder, host=listen)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.folder}&port={self.port}"

    def tcp_url(self, database: str) -> str:
        """The URL of ``database`` over TCP, on the ``listen`` address."""
        assert self.host is not None, "started without listen"
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

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
    """redis-server on a unix socket in a temporary folder; persistence off, or (``persistent``)
    an append-only file synced on every write, so that :meth:`restart` keeps the queue."""

    folder: Path
    process: subprocess.Popen[bytes]
    args: list[str]
    host: str | None = None

    @classmethod
    def start(cls, *, persistent: bool = False, listen: str | None = None) -> RedisServer:
        """``listen``: an IPv4 address to serve on port 6379 besides the socket (a test's veth link)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server (make test does)")
        folder = Path(tempfile.mkdtemp(prefix="chartclerk-redis-"))
        socket = folder / "redis.sock"
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        )
        tcp = ["--port", "6379", "--bind", listen, "--protected-mode", "no"] if listen else ["--port", "0"]
        args = [binary, *tcp, "--unixsocket", str(socket), "--unixsocketperm", "700"]
        args += ["--save", "", *persistence, "--dir", str(folder), "--maxmemory-policy", "noeviction"]
        return cls(folder, _run_redis(args, socket), args, listen)

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    def url(self, db: int = 0) -> str:
        return f"redis+socket://{self.socket}?virtual_host={db}"

    def tcp_url(self, db: int = 0) -> str:
        assert self.host is not None, "started without listen"
        return f"redis://{self.host}:6379/{db}"

    def restart(self) -> None:
        """Stop the server (as a shutdown does: SIGTERM) and start it again on the same socket
        and folder; with ``persistent`` it comes back with what it held."""
        self._terminate()
        self.socket.unlink(missing_ok=True)
        self.process = _run_redis(self.args, self.socket)

    def _terminate(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.folder, ignore_errors=True)


def _run_redis(args: list[str], socket: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + _START_TIMEOUT
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.02)
    return process


@dataclass
class NetNamespace:
    """A network namespace of the test's own, linked to this one by a veth pair: this side
    ``host_ip``, the namespace's ``ns_ip`` (a /30 of 10.231.0.0/16). ``prefix`` runs a command
    inside it (``ip netns exec``): a second test host with the same file system."""

    name: str
    veth: str
    host_ip: str
    ns_ip: str

    @classmethod
    def create(cls) -> NetNamespace:
        """Raises OSError with the kernel's or ip's reason when namespaces cannot be made here."""
        if shutil.which("ip") is None:
            raise OSError("the ip command (iproute2) is missing")
        tag = f"{os.getpid() % 100000}{uuid.uuid4().hex[:3]}"
        used = _ip(["-4", "addr"])
        for _ in range(100):
            n = int(uuid.uuid4().hex[:4], 16) % (256 * 64)
            host_ip, ns_ip = f"10.231.{n // 64}.{(n % 64) * 4 + 1}", f"10.231.{n // 64}.{(n % 64) * 4 + 2}"
            if f"{host_ip}/" not in used and f"{ns_ip}/" not in used:
                break
        namespace = cls(f"cc-{tag}", f"ccv{tag}", host_ip, ns_ip)
        _ip(["netns", "add", namespace.name])
        try:
            _ip(["link", "add", namespace.veth, "type", "veth", "peer", "name", f"{namespace.veth}n"])
            _ip(["link", "set", f"{namespace.veth}n", "netns", namespace.name])
            _ip(["addr", "add", f"{host_ip}/30", "dev", namespace.veth])
            _ip(["link", "set", namespace.veth, "up"])
            inside = ["-n", namespace.name]
            _ip([*inside, "addr", "add", f"{ns_ip}/30", "dev", f"{namespace.veth}n"])
            _ip([*inside, "link", "set", f"{namespace.veth}n", "up"])
            _ip([*inside, "link", "set", "lo", "up"])
        except OSError:
            namespace.remove()
            raise
        return namespace

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True, check=False, timeout=30)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False, timeout=30)


def _ip(args: list[str]) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout
