"""Child processes of this very project (a qcluster, a benchmark run): starting them from any
working directory, stopping them politely or killing them outright, and finding their
descendants in /proc (no psutil here)."""

import contextlib
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.db import connection


def django_command(*args: str, **env: str) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) for `python -m django <args>` with this process's settings module
    and import path, so it works in any project, whatever the current directory."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
    if not module:  # settings.configure() has no module a child could import
        raise RuntimeError("Set DJANGO_SETTINGS_MODULE to start Django child processes.")
    path = [p for p in sys.path if p]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "PYTHONPATH": os.pathsep.join(path),
        **env,
    }
    return [sys.executable, "-m", "django", *args], environment


def database_env() -> dict[str, str]:
    """DATABASE_URL for a settings module that reads it (the demo's), so that a child uses
    the very database this process uses, a test database included; other projects ignore
    it and their children use their own settings."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        return {}
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"}


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM lets a qcluster finish its current task; SIGKILL if it takes longer."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def parent_pids() -> dict[int, int]:
    """pid -> parent pid for every process we can see."""
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
    return parents


def children_of(pid: int) -> list[int]:
    """Every descendant of `pid`, parents before their children."""
    parents = parent_pids()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop(0)
        kids = sorted(child for child, ppid in parents.items() if ppid == parent)
        found.extend(kids)
        frontier.extend(kids)
    return found


def kill_tree(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a process and all its descendants: nothing gets to clean up. Each one is frozen
    (SIGSTOP) before its children are listed, so none can start a replacement meanwhile (a
    qcluster's sentinel reincarnates a dead worker at once)."""
    frozen, frontier = [], [proc.pid]
    while frontier:
        pid = frontier.pop()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
        frozen.append(pid)
        frontier += [child for child, parent in parent_pids().items() if parent == pid]
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return frozen[1:]
