"""SQLite as the worker and the web process share it: a transaction that reads and then writes
must wait for a concurrent commit (a heartbeat), not fail at once with "database is locked"."""

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import OperationalError, transaction
from django.db.utils import ConnectionHandler

from project.env import database_from_url

pytestmark = pytest.mark.sqlite_lane


@pytest.fixture
def connect(monkeypatch, django_db_blocker) -> Iterator[Callable[[dict], ConnectionHandler]]:
    """Two connections to one file, as an export and its heartbeat thread hold; Django's own
    `transaction.atomic(using=...)` runs on them."""
    handlers: list[ConnectionHandler] = []

    def connect(entry: dict) -> ConnectionHandler:
        handler = ConnectionHandler({"default": entry, "export": entry, "heartbeat": entry})
        monkeypatch.setattr(transaction, "connections", handler)
        handlers.append(handler)
        return with_table(handler)

    with django_db_blocker.unblock():
        yield connect
    for handler in handlers:
        handler.close_all()


def with_table(handler: ConnectionHandler) -> ConnectionHandler:
    with handler["export"].cursor() as cursor:
        cursor.execute("CREATE TABLE audit (id integer PRIMARY KEY, beats integer, rows integer)")
        cursor.execute("INSERT INTO audit VALUES (1, 0, 0)")
    return handler


def beat(handler: ConnectionHandler, done: threading.Event, errors: list[Exception]) -> None:
    try:
        with handler["heartbeat"].cursor() as cursor:
            cursor.execute("UPDATE audit SET beats = beats + 1 WHERE id = 1")
    except Exception as exc:
        errors.append(exc)
    finally:
        handler["heartbeat"].close()
        done.set()


def read(handler: ConnectionHandler, column: str) -> int:
    with handler["export"].cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM audit WHERE id = 1")  # noqa: S608 (a constant)
        return cursor.fetchone()[0]


@pytest.mark.parametrize("url", ["", "sqlite:///{dir}/exportdesk.sqlite3"])
def test_every_sqlite_database_uses_immediate_transactions_wal_and_a_timeout(tmp_path, url):
    entry = database_from_url(url.format(dir=tmp_path), tmp_path / "exportdesk.sqlite3")
    assert entry["NAME"] == str(tmp_path / "exportdesk.sqlite3")
    assert entry["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert entry["OPTIONS"]["init_command"] == "PRAGMA journal_mode=WAL;"
    assert entry["OPTIONS"]["timeout"] >= 5
    assert entry["TEST"]["NAME"] == str(tmp_path / "test_exportdesk.sqlite3"), "a worker opens it"


def test_without_immediate_a_commit_between_read_and_write_fails_at_once(tmp_path, connect):
    """Why the setting exists: SQLite's default (DEFERRED) transaction starts as a reader, and
    cannot become a writer once another connection has committed; no timeout helps."""
    entry = database_from_url("", tmp_path / "old.sqlite3")
    entry["OPTIONS"].pop("transaction_mode")
    handler = connect(entry)
    done, errors = threading.Event(), []
    with (
        pytest.raises(OperationalError, match="database is locked"),
        transaction.atomic(using="export"),
    ):
        beats = read(handler, "beats")
        threading.Thread(target=beat, args=(handler, done, errors)).start()
        assert done.wait(30) and errors == [], "the heartbeat commits in between"
        started = time.monotonic()
        with handler["export"].cursor() as cursor:
            cursor.execute("UPDATE audit SET rows = ? WHERE id = 1", [beats + 100])
    assert time.monotonic() - started < 5, "failed at once, although it may wait 20 s"


def test_with_the_settings_a_concurrent_commit_waits_and_both_succeed(tmp_path, connect):
    handler = connect(database_from_url(f"sqlite:///{tmp_path}/new.sqlite3", tmp_path / "x"))
    done, errors = threading.Event(), []
    with transaction.atomic(using="export"):
        beats = read(handler, "beats")
        threading.Thread(target=beat, args=(handler, done, errors)).start()
        assert not done.wait(0.5), "the heartbeat waits for the open transaction"
        with handler["export"].cursor() as cursor:
            cursor.execute("UPDATE audit SET rows = ? WHERE id = 1", [beats + 100])
    assert done.wait(30) and errors == []
    assert (read(handler, "beats"), read(handler, "rows")) == (1, 100)
