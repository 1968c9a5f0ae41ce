"""Two users submitting exports at once on SQLite: every submit is accepted, none answers
"database is locked". SQLite's default (DEFERRED) transaction begins as a reader and cannot
become a writer while another connection writes, whatever the busy timeout; a host's SQLite
settings rarely say IMMEDIATE, so Exportdesk's own read-then-write transactions take the write
lock first (exports.db.write_atomic); what a host's settings can still undo, a check says."""

import threading
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

from exports.checks import check_sqlite_writes, sqlite_write_problems
from exports.jobs.accept import queue_export
from exports.models import ExportAudit
from project.env import database_from_url
from tests.conftest import make_user

pytestmark = pytest.mark.sqlite_lane

THREADS_PER_USER = 4
SUBMITS_PER_THREAD = 6


def submit_many(user: User, limits: range, start: threading.Barrier, failed: list[str]) -> None:
    """One web process's worth of submits, on this thread's own connection."""
    try:
        start.wait(timeout=30)
        for limit in limits:
            try:
                queue_export(user, "user_points", "csv", {"limit": limit})
            except Exception as exc:  # what a web request would have answered with a 500
                failed.append(f"{user.username} limit={limit}: {exc!r}")
    finally:
        connections.close_all()


def submit_at_once(users: list[User]) -> list[str]:
    """THREADS_PER_USER threads per user, released together; each submit asks for its own
    row limit, so none is a duplicate of another."""
    failed: list[str] = []
    start = threading.Barrier(len(users) * THREADS_PER_USER)
    threads = [
        threading.Thread(
            target=submit_many,
            args=(user, range(1 + t * SUBMITS_PER_THREAD, 1 + (t + 1) * SUBMITS_PER_THREAD)),
            kwargs={"start": start, "failed": failed},
        )
        for user in users
        for t in range(THREADS_PER_USER)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submit hung"
    return failed


@pytest.fixture(params=["host settings (DEFERRED)", "demo settings (IMMEDIATE)"])
def transaction_mode(request, monkeypatch) -> str:
    """The demo sets IMMEDIATE; a host's SQLite entry usually has no transaction_mode at all.
    Every thread's new connection reads these OPTIONS when it connects."""
    options = connections["default"].settings_dict.setdefault("OPTIONS", {})
    if "DEFERRED" in request.param:
        monkeypatch.delitem(options, "transaction_mode", raising=False)
    return request.param


@pytest.mark.django_db(transaction=True)
def test_two_users_submitting_at_once_are_all_accepted(transaction_mode, settings):
    settings.EXPORTS_MAX_PENDING_PER_USER = THREADS_PER_USER * SUBMITS_PER_THREAD
    users = [make_user(name, staff=True, export=True) for name in ("ann", "ben")]
    failed = submit_at_once(users)
    total = len(users) * THREADS_PER_USER * SUBMITS_PER_THREAD
    assert failed == [], f"{len(failed)} of {total} submits failed: {failed[:3]}"
    expected = list(range(1, THREADS_PER_USER * SUBMITS_PER_THREAD + 1))
    for user in users:
        audits = ExportAudit.objects.filter(requested_by=user)
        limits = sorted(audit.filters["limit"] for audit in audits)
        assert limits == expected, f"{user.username}'s audit rows"


def wrapper(entry: dict) -> BaseDatabaseWrapper:
    """A connection object for a DATABASES entry, never opened: what the check looks at."""
    entry = {"ATOMIC_REQUESTS": False, "OPTIONS": {}, **entry}
    return load_backend(entry["ENGINE"]).DatabaseWrapper(entry, "default")


def host_sqlite(tmp_path: Path, **entry) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "host.db"), **entry}


def ids(connection: BaseDatabaseWrapper) -> list[str]:
    return [message.id for message in sqlite_write_problems(connection)]


def test_check_warns_a_host_whose_requests_run_in_deferred_sqlite_transactions(tmp_path):
    """Inside a transaction that has read already, taking the write lock first is too late:
    measured, 40-41 of these 48 submits failed there without IMMEDIATE."""
    [warning] = sqlite_write_problems(wrapper(host_sqlite(tmp_path, ATOMIC_REQUESTS=True)))
    assert warning.id == "exports.W004"
    assert "ATOMIC_REQUESTS" in warning.msg
    assert '"transaction_mode": "IMMEDIATE"' in warning.hint


def test_check_warns_a_sqlite_lock_timeout_under_a_second(tmp_path):
    entry = host_sqlite(tmp_path, OPTIONS={"timeout": 0, "transaction_mode": "IMMEDIATE"})
    assert ids(wrapper(entry)) == ["exports.W005"]


def test_check_is_silent_where_exportdesk_takes_the_lock_itself_or_needs_none(tmp_path):
    demo = database_from_url("", tmp_path / "demo.db")
    assert ids(wrapper({**demo, "ATOMIC_REQUESTS": True})) == []
    assert ids(wrapper(host_sqlite(tmp_path))) == [], "no ATOMIC_REQUESTS: write_atomic holds"
    immediate = host_sqlite(
        tmp_path, ATOMIC_REQUESTS=True, OPTIONS={"transaction_mode": "immediate"}
    )
    assert ids(wrapper(immediate)) == []
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "x", "ATOMIC_REQUESTS": True}
    assert ids(wrapper(postgres)) == []
    assert check_sqlite_writes() == [], "the test settings (the demo's)"
