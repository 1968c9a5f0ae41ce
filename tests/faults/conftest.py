"""Helpers for provoking real faults: worker processes, tmpfs mounts, a second PostgreSQL."""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.conftest import spawn_qcluster


def children_of(pid: int) -> list[int]:
    """Every descendant of `pid`, read from /proc (no psutil here)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # pid (comm) state ppid ...; comm may hold spaces and parentheses
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(kids)
        frontier.extend(kids)
    return found


def kill_tree(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a process and all its descendants, children first: nothing gets to clean up."""
    victims = children_of(proc.pid)
    for pid in [*victims, proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return victims


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


class Server:
    """A dedicated, initialised PostgreSQL that a test may stop and start at will."""

    def __init__(self) -> None:
        self.bindir, self.user = postgres.find_bindir(), postgres.unprivileged_user()
        self.port = postgres.free_port()
        self.base = Path(tempfile.mkdtemp(prefix="exportdesk-fault-pg-", dir="/tmp"))
        self.base.chmod(0o755)
        if self.user:
            shutil.chown(self.base, self.user)
        self.data = self.base / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        postgres.run_as(
            self.user, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip

    def pg_ctl(self, *args: str) -> None:
        postgres.run_as(self.user, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args)

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self.pg_ctl("-l", str(self.base / "log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def spare_postgres() -> Iterator[Server]:
    server = Server()
    try:
        yield server
    finally:
        if server.running():
            server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
