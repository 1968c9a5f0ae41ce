"""Helpers for provoking real faults: worker processes, tmpfs mounts, a second PostgreSQL."""

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exportdesk_tools.pgserver import PostgresServer
from exportdesk_tools.processes import kill_tree
from tests.conftest import spawn_qcluster


@pytest.fixture
def start_cluster(exports_root: Path, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `manage.py qcluster` subprocesses on the test database; all stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(log_name: str = "qcluster.log", **env: str) -> subprocess.Popen:
        proc = spawn_qcluster(exports_root, tmp_path / log_name, **env)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    kill_tree(proc)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem that fills up."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def spare_postgres() -> Iterator[PostgresServer]:
    """A dedicated, initialised PostgreSQL (not started) that a test may stop and start."""
    server = PostgresServer(prefix="exportdesk-fault-pg-")
    try:
        yield server
    finally:
        server.remove()
