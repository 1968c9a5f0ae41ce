"""A client that goes away during an immediate download leaves no open file, thread or
database connection behind, and the audit row says the download was cut short."""

import os
import threading

import pytest
from django.db import connection

from exports.delivery import immediate
from exports.jobs.accept import start_immediate
from exports.models import ExportAudit, ExportStatus
from project.demo.seed import top_up
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_client_gone_mid_download_leaks_nothing(staff):
    top_up(40_000)  # about 3 MB: more than the response queue holds
    fds, conns, threads = open_fds(), backends(), threading.active_count()
    audit, source = start_immediate(staff, "user_points", "csv", {}, {})
    response = immediate.response(audit, source)
    chunks = iter(response.streaming_content)
    assert next(chunks)
    response.close()  # what the WSGI server does when the client disconnects

    ended = wait_for(
        lambda: (
            ExportAudit.objects.exclude(status=ExportStatus.RUNNING).filter(pk=audit.pk).first()
        ),
        timeout=30,
        what="the writer to stop",
    )
    assert ended.status == ExportStatus.FAILED and "client went away" in ended.error
    wait_for(lambda: threading.active_count() == threads, timeout=10, what="the writer thread")
    wait_for(lambda: backends() == conns, timeout=10, what="its connections to close")
    wait_for(lambda: open_fds() <= fds, timeout=10, what="its file handles to close")
