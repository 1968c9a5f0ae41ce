"""Child processes of commands and tests (a qcluster, mostly): stop them politely or kill
them outright, and find their descendants in /proc (no psutil here)."""

import contextlib
import os
import signal
import subprocess


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
