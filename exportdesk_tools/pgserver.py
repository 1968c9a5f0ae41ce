"""A throwaway PostgreSQL from the machine's own server binaries, for tests and load runs.

It lives in a fresh folder under /tmp, listens on 127.0.0.1 only (on a free port) and is
durable enough for nothing: fsync and friends are off. As root it runs as `postgres` (or
`nobody`), because initdb refuses root.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No server binaries, or no user that initdb accepts."""


def find_bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise PostgresUnavailable("No PostgreSQL server binaries (pg_ctl) found; set DATABASE_URL.")
    return Path(candidates[0]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unprivileged_user() -> str | None:
    """initdb refuses to run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("Running as root with no 'postgres' or 'nobody' user for initdb.")


def run_as(user: str | None, *cmd: str) -> None:
    prefix = ["runuser", "-u", user, "--"] if user else []
    subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class PostgresServer:
    """An initialised cluster in its own folder; start, stop and restart it at will."""

    def __init__(self, prefix: str = "exportdesk-pg-", max_connections: int = 200) -> None:
        self.bindir, self.user, self.port = find_bindir(), unprivileged_user(), free_port()
        self.max_connections = max_connections
        self.base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # noqa: S108
        self.base.chmod(0o755)
        if self.user:
            shutil.chown(self.base, self.user)
        self.data = self.base / "data"
        self.log = self.base / "log"
        run_as(
            self.user, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip

    @property
    def url(self) -> str:
        """Its `postgres` database, which initdb creates."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str) -> None:
        run_as(self.user, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args)

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={self.max_connections}"
        )
        self.pg_ctl("-l", str(self.log), "-w", "-o", options, "start")

    def restart(self, mode: str = "fast") -> None:
        """What an operator's restart does: every connection is cut, then it is back."""
        self.pg_ctl("-m", mode, "-w", "restart")

    def stop(self, mode: str = "immediate") -> None:
        self.pg_ctl("-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        """A fresh database on this server; returns its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def remove(self) -> None:
        """Stop it if it runs, and delete its folder."""
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
