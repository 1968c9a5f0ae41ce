"""Transactions that read and then write, made to hold on SQLite whatever the host's settings.

SQLite's default (DEFERRED) transaction begins as a reader. A reader that then writes while
another connection holds the write lock, or has committed since it read, fails at once with
"database is locked": SQLite does not wait on the busy timeout there, since waiting could
deadlock. `select_for_update()` does nothing on SQLite. Taking the write lock with the
transaction's first statement waits on the timeout like any write, as BEGIN IMMEDIATE does.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from exports.models import ExportAudit

# Transaction modes (Django >= 5.1, OPTIONS["transaction_mode"]) whose BEGIN takes the lock.
LOCKING_MODES = {"IMMEDIATE", "EXCLUSIVE"}


def begins_with_write_lock(connection: BaseDatabaseWrapper) -> bool:
    options = connection.settings_dict.get("OPTIONS") or {}
    return str(options.get("transaction_mode") or "").upper() in LOCKING_MODES


def needs_write_lock(connection: BaseDatabaseWrapper) -> bool:
    """SQLite without a locking transaction_mode; other databases lock rows themselves."""
    return connection.vendor == "sqlite" and not begins_with_write_lock(connection)


def take_write_lock(connection: BaseDatabaseWrapper) -> None:
    """An UPDATE that matches no row still opens a write transaction: the lock, nothing else."""
    table = connection.ops.quote_name(ExportAudit._meta.db_table)
    column = connection.ops.quote_name(ExportAudit._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = {column} WHERE 0")  # noqa: S608 - names


@contextmanager
def write_atomic(using: str | None = None) -> Iterator[None]:
    """`transaction.atomic()` for a block that reads and then writes Exportdesk's tables.

    On SQLite, an outermost block takes the write lock first, so concurrent blocks queue for
    it (up to the busy timeout) instead of failing. A block nested in a transaction that has
    read already cannot: exports.W004 warns a host whose requests run in one (ATOMIC_REQUESTS).
    """
    connection = transaction.get_connection(using)
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and needs_write_lock(connection):
            take_write_lock(connection)
        yield
