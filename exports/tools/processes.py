"""Stopping a child process (a qcluster, mostly) politely, then firmly."""

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
