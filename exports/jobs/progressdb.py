"""Which connection a running export writes its progress, cancel checks and quota reservations
on: the "progress" alias (exports.apps adds it), except inside a host project's own tests.

A host's `TestCase` (and pytest-django's `db` fixture) runs each test in a transaction on the
default connection and forbids every alias the test does not list in `databases`. A second
connection there could not even see the export's audit row, which is uncommitted, so it would
report the export as cancelled. Inside such a test the default connection does the job: the
host's test suite needs no line for Exportdesk.
"""

import sys

from django.db import DEFAULT_DB_ALIAS, connections

from exports.apps import PROGRESS_ALIAS


def progress_alias() -> str:
    """The alias to commit progress on while an export's own transaction stays open."""
    if in_test_transaction() or forbidden_in_this_test(PROGRESS_ALIAS):
        return DEFAULT_DB_ALIAS
    return PROGRESS_ALIAS


def in_test_transaction() -> bool:
    """True inside a TestCase's (or pytest-django `db`'s) transaction on this thread."""
    blocks = connections[DEFAULT_DB_ALIAS].atomic_blocks
    return any(getattr(block, "_from_testcase", False) for block in blocks)


def forbidden_in_this_test(alias: str) -> bool:
    """True where a Django test forbids `alias` (a TransactionTestCase that does not list it).
    django.test is never imported outside tests, so this costs nothing in production."""
    testcases = sys.modules.get("django.test.testcases")
    if testcases is None:
        return False
    failure = getattr(testcases, "_DatabaseFailure", ())
    return isinstance(connections[alias].connect, failure)
