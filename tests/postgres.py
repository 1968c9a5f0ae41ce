"""pytest plugin: the test database server, chosen before pytest-django imports the settings.

Loaded with `-p tests.postgres`. By default a throwaway PostgreSQL from the machine's own
server binaries; with TEST_DATABASE=sqlite an SQLite file in a temporary folder (the SQLite
lane: a file, not memory, so a `qcluster` subprocess shares it). If DATABASE_URL is already
set, that database is used and nothing is started.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_server: dict[str, object] = {}


def find_bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise pytest.UsageError("No PostgreSQL server binaries (pg_ctl) found; set DATABASE_URL.")
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
    raise pytest.UsageError("Running as root with no 'postgres' or 'nobody' user for initdb.")


def run_as(user: str | None, *cmd: str) -> None:
    prefix = ["runuser", "-u", user, "--"] if user else []
    subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start() -> str:
    bindir, user, port = find_bindir(), unprivileged_user(), free_port()
    base = Path(tempfile.mkdtemp(prefix="exportdesk-pg-", dir="/tmp"))
    base.chmod(0o755)
    if user:
        shutil.chown(base, user)
    data = base / "data"
    run_as(
        user,
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    run_as(
        user,
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "log"),
        "-w",
        "-o",
        options,
        "start",
    )
    _server.update(bindir=bindir, user=user, data=data, base=base)
    return f"postgres://postgres@127.0.0.1:{port}/exportdesk"


def sqlite_url() -> str:
    base = Path(tempfile.mkdtemp(prefix="exportdesk-sqlite-", dir="/tmp"))
    _server.update(base=base)
    return f"sqlite:///{base / 'exportdesk.sqlite3'}"


def stop() -> None:
    """Stop the server we started (if any) and remove our folder."""
    try:
        if "data" in _server:
            run_as(
                _server["user"],
                str(_server["bindir"] / "pg_ctl"),
                "-D",
                str(_server["data"]),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
    finally:
        if "base" in _server:
            shutil.rmtree(_server["base"], ignore_errors=True)
        _server.clear()


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Workers of pytest-xdist inherit the controller's DATABASE_URL and reuse its server.
    kind = os.environ.get("TEST_DATABASE", "postgresql")
    if kind not in ("postgresql", "sqlite"):
        raise pytest.UsageError(f"TEST_DATABASE must be 'postgresql' or 'sqlite', not {kind!r}")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = sqlite_url() if kind == "sqlite" else start()
    return (yield)


def pytest_unconfigure(config):
    stop()
