"""The database going away: a connection terminated mid-stream, and no server at all when the
worker starts."""

import os
import subprocess
import sys

import psycopg
import pytest
from django.db import connection

from exports.jobs.accept import queue_export
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.seed import top_up
from tests.conftest import ROOT, wait_for


def worker_backends() -> list[int]:
    """The worker's connection that runs the export's COPY (the query stays listed while its
    transaction is open)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query ILIKE '%%COPY%%'"
        )
        return [row[0] for row in cursor.fetchall()]


def terminate_mid_stream(audit: ExportAudit) -> None:
    wait_for(
        lambda: ExportAudit.objects.get(pk=audit.pk).row_count > 0,
        timeout=60,
        what="rows to stream",
    )
    backends = wait_for(worker_backends, timeout=10, what="the worker's COPY")
    with connection.cursor() as cursor:
        for pid in backends:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_connection_terminated_mid_stream_is_retried_to_exactly_one_file(
    staff, start_cluster, exports_root
):
    """Found by the chaos run: a PostgreSQL restart failed the exports it interrupted, or had
    the sweeper retry them, depending on how soon the database answered again."""
    top_up(20_000)
    start_cluster()
    audit = queue_export(staff, "user_points", "xlsx").audit
    terminate_mid_stream(audit)
    done = wait_for(
        lambda: ExportAudit.objects.filter(pk=audit.pk, status__in=["completed", "failed"]).first(),
        timeout=90,
        what="the next attempt to finish",
    )
    assert done.status == ExportStatus.COMPLETED, done.error
    assert done.attempts == 2 and done.row_count == 20_000 and done.reserved_bytes == 0
    file = DownloadFile.objects.get(audit=audit)
    stored = [p for p in exports_root.rglob("*") if p.is_file()]
    assert [p.relative_to(exports_root).as_posix() for p in stored] == [file.stored_name]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_connection_terminated_on_the_last_attempt_fails_the_export_cleanly(
    staff, start_cluster, exports_root
):
    top_up(20_000)
    start_cluster(EXPORTS_MAX_ATTEMPTS="1")
    audit = queue_export(staff, "user_points", "xlsx").audit
    terminate_mid_stream(audit)
    ended = wait_for(
        lambda: ExportAudit.objects.filter(pk=audit.pk).exclude(status="running").first(),
        timeout=60,
        what="the worker to notice",
    )
    assert ended.status == ExportStatus.FAILED, ended.status
    assert "database connection" in ended.error
    assert ended.reserved_bytes == 0 and ended.finished_at is not None
    assert not DownloadFile.objects.exists()
    assert not [p for p in exports_root.rglob("*") if p.is_file()]


def manage(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {"DJANGO_SETTINGS_MODULE": "project.settings", "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_worker_started_while_postgres_is_down_exits_non_zero_then_works_once_it_is_back(
    spare_postgres, start_cluster
):
    spare_postgres.start()
    assert manage(spare_postgres.url, "migrate", "-v0").returncode == 0
    spare_postgres.stop()

    early = start_cluster("down.log", DATABASE_URL=spare_postgres.url)
    assert early.wait(timeout=60) != 0, "no database: the worker must not pretend to run"

    spare_postgres.start()
    start_cluster("back.log", DATABASE_URL=spare_postgres.url)
    enqueue = (
        "from django_q.tasks import async_task; async_task('math.hypot', 3, 4, task_name='probe')"
    )
    assert manage(spare_postgres.url, "shell", "-c", enqueue).returncode == 0

    def probe_result():
        with psycopg.connect(spare_postgres.url.replace("postgres://", "postgresql://")) as conn:
            row = conn.execute("SELECT success FROM django_q_task WHERE name = 'probe'").fetchone()
        return row

    assert wait_for(probe_result, timeout=60, what="the recovered worker to run a task") == (True,)
