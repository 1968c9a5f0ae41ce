"""Tiny helpers that read settings from environment variables."""

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import django

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# The SMTP backend's options (MAILERS, Django >= 6.1) and the settings they replace (5.2).
EMAIL_SETTINGS = {
    "host": "EMAIL_HOST",
    "port": "EMAIL_PORT",
    "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD",
    "use_tls": "EMAIL_USE_TLS",
}


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def sqlite_database(path: Path) -> dict[str, Any]:
    """A DATABASES entry for an SQLite file, safe for a worker and a web process sharing it.

    IMMEDIATE takes the write lock when a transaction begins: a read-then-write transaction
    then waits for a concurrent commit (a heartbeat) instead of failing at once with
    "database is locked", and it stands in for `select_for_update()`, which SQLite ignores.
    WAL lets readers run beside that writer; `timeout` is how long a writer waits (seconds).
    The test database is a file beside it, not in memory, so a worker process can open it.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
            "timeout": 20,
        },
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


def database_from_url(url: str, sqlite_path: Path) -> dict[str, Any]:
    """`postgres://user:pass@host:port/name?opt=v` or `sqlite:///path` -> a DATABASES entry;
    empty -> the SQLite file `sqlite_path`."""
    if not url:
        return sqlite_database(sqlite_path)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return sqlite_database(Path(unquote(parts.path[1:])))
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(parts.hostname or ""),
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
        "CONN_MAX_AGE": 0,
    }


def mail_settings(backend: str = SMTP_BACKEND, **smtp: Any) -> dict[str, Any]:
    """Mail settings the way this Django wants them: `MAILERS` from 6.1 on (which deprecates
    the EMAIL_* settings and refuses a mix of both), EMAIL_* on 5.2 (which has no MAILERS).
    `smtp` holds the SMTP backend's options (host, port, username, password, use_tls)."""
    if django.VERSION >= (6, 1):
        options = smtp if backend == SMTP_BACKEND else {}  # other backends refuse them
        return {"MAILERS": {"default": {"BACKEND": backend, "OPTIONS": options}}}
    return {"EMAIL_BACKEND": backend, **{EMAIL_SETTINGS[k]: v for k, v in smtp.items()}}
