"""Child processes of this very project (a qcluster, a benchmark run): starting them from any
working directory, and stopping them politely, then firmly."""

import os
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
