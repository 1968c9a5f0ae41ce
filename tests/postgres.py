"""pytest plugin: the test database server, chosen before pytest-django imports the settings.

Loaded with `-p tests.postgres`. By default a throwaway PostgreSQL from the machine's own
server binaries; with TEST_DATABASE=sqlite an SQLite file in a temporary folder (the SQLite
lane: a file, not memory, so a `qcluster` subprocess shares it). If DATABASE_URL is already
set, that database is used and nothing is started.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from exportdesk_tools.pgserver import (  # noqa: F401 - re-exported for tests/faults
    PostgresServer,
    PostgresUnavailable,
    find_bindir,
    free_port,
    run_as,
    unprivileged_user,
)

_server: dict[str, object] = {}


def start() -> str:
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        raise pytest.UsageError(str(exc)) from exc
    server.start()
    _server.update(server=server, base=server.base)
    return server.database_url("exportdesk")


def sqlite_url() -> str:
    base = Path(tempfile.mkdtemp(prefix="exportdesk-sqlite-", dir="/tmp"))
    _server.update(base=base)
    return f"sqlite:///{base / 'exportdesk.sqlite3'}"


def stop() -> None:
    """Stop the server we started (if any) and remove our folder."""
    try:
        if "server" in _server:
            _server["server"].remove()
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
        # pytest_unconfigure never comes when the command line is refused (a usage error
        # after this hook): the server must not outlive the run even then.
        atexit.register(stop)
    return (yield)


def pytest_unconfigure(config):
    stop()
