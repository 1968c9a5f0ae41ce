"""The tests every queue other than django-q2 passes, on its real worker (tests/queues:
`celery worker` on Redis, django-tasks-db's `db_worker`). Each test module imports them and
names its queue in a `queue` fixture; no qcluster runs in any of them."""

import csv
import io
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Task

from exportdesk_tools.processes import children_of
from exports.delivery.storage import exports_storage
from exports.jobs.accept import queue_export
from exports.models import (
    Delivery,
    DownloadFile,
    ExportAudit,
    ExportStatus,
    SentRange,
)
from project.demo.models import UserPoint
from project.demo.seed import top_up
from tests.conftest import wait_for
from tests.factories import finished_file
from tests.queues.conftest import Queue
from tests.schedules import assert_everyone_got_every_row, finished_run, shared_schedule
from tests.test_flow import expected_rows, export_from_changelist, unneutralise

__all__ = [  # what each test module runs on its queue (`from tests.queues.flows import *`)
    "pytestmark",
    "test_an_admin_export_reaches_my_downloads_with_no_qcluster",
    "test_an_export_delivered_by_e_mail_sends_its_link",
    "test_the_clock_sends_a_due_schedule_and_the_purge_to_the_worker",
    "test_a_cancelled_export_stops_and_its_queued_job_does_nothing",
    "test_an_export_whose_worker_is_killed_finishes_once_on_another",
]
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
ENDED = [ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED]


def ended(audit: ExportAudit) -> ExportAudit | None:
    return ExportAudit.objects.filter(pk=audit.pk, status__in=ENDED).first()


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it has exited since it was listed
        return b""


def no_django_q() -> None:
    """The point of another queue: no qcluster process of ours, and django-q2's broker and
    result tables never saw a job."""
    assert not [cmd for cmd in map(command_line, children_of(os.getpid())) if b"qcluster" in cmd]
    assert not OrmQ.objects.exists() and not Task.objects.exists()


def test_an_admin_export_reaches_my_downloads_with_no_qcluster(queue: Queue, client, staff):
    top_up(300)
    queue.start_worker()
    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:250])
    client.force_login(staff)
    export_from_changelist(client, ids)
    audit = ExportAudit.objects.get()
    done = wait_for(lambda: ended(audit), what="the worker to finish the export")
    assert done.status == ExportStatus.COMPLETED, done.error
    assert done.row_count == 250 and done.attempts == 1
    file = DownloadFile.objects.get(audit=audit)
    assert file.get_absolute_url() in client.get(reverse("exports:my-downloads")).content.decode()
    response = client.get(file.get_absolute_url())
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [[unneutralise(v) for v in row] for row in rows[1:]] == expected_rows(ids)
    no_django_q()


def test_an_export_delivered_by_e_mail_sends_its_link(queue: Queue, staff, smtp_server):
    top_up(300)
    queue.start_worker()
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    done = wait_for(lambda: ended(audit), what="the worker to finish the export")
    assert done.status == ExportStatus.COMPLETED, done.error
    inbox, _ = smtp_server
    [message] = wait_for(lambda: inbox.messages, what="the e-mail")
    assert message["To"] == "staffer@example.com"
    file = DownloadFile.objects.get(audit=audit)
    assert file.get_absolute_url() in message.get_body(("plain",)).get_content()
    no_django_q()


def test_the_clock_sends_a_due_schedule_and_the_purge_to_the_worker(queue: Queue, smtp_server):
    """`exports_clock --once` (what cron runs each minute) sends the periodic jobs; the
    worker runs the due schedule's exports, logs what it sent, mails each recipient, and
    purges an expired file."""
    top_up(300)
    owner, bob, schedule = shared_schedule()
    expired = finished_file(owner, expires_in=timedelta(seconds=-1))
    queue.start_worker()

    out = queue.manage("exports_clock", "--once")
    assert f"exports_clock ({queue.name}): sent" in out and "run due export schedules" in out
    run = wait_for(lambda: finished_run(schedule), timeout=120, what="the scheduled run")
    every = assert_everyone_got_every_row(run, owner, bob)
    logged = SentRange.objects.values_list("lo", "hi")
    assert sorted({k for lo, hi in logged for k in range(lo, hi + 1)}) == every
    inbox, _ = smtp_server
    assert sorted(m["To"] for m in inbox.messages) == ["bob@example.com", "owner@example.com"]
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now()
    wait_for(lambda: not DownloadFile.objects.filter(pk=expired.pk).exists(), what="the purge")
    assert not exports_storage().exists(expired.stored_name)
    no_django_q()


def test_a_cancelled_export_stops_and_its_queued_job_does_nothing(
    queue: Queue, client, staff, exports_root
):
    """Cancel is a flag in the database on every queue (no revoke): a running export stops
    between chunks; a job still queued for a cancelled export finds it cancelled."""
    top_up(60_000)
    client.force_login(staff)
    waiting = queue_export(staff, "user_points", "csv").audit
    client.post(waiting.get_cancel_url())  # before any worker runs: its job stays queued
    queue.start_worker()
    audit = queue_export(staff, "user_points", "xlsx").audit
    wait_for(lambda: ExportAudit.objects.get(pk=audit.pk).row_count > 0, what="progress")
    client.post(audit.get_cancel_url())
    stopped = wait_for(lambda: ended(audit), what="the worker to notice the cancel")
    assert stopped.status == ExportStatus.CANCELLED
    assert 0 < stopped.row_count < 60_000
    wait_for(lambda: queue.ran(waiting), what="the cancelled export's job to be taken")
    never = ExportAudit.objects.get(pk=waiting.pk)
    assert never.status == ExportStatus.CANCELLED and never.attempts == 0
    assert not DownloadFile.objects.exists()
    wait_for(lambda: not [p for p in exports_root.rglob("*") if p.is_file()], what="cleanup")
    no_django_q()


def test_an_export_whose_worker_is_killed_finishes_once_on_another(
    queue: Queue, staff, exports_root
):
    """SIGKILL the process running the export: after EXPORTS_STALE_SECONDS the clock's sweep
    sends it again, and a worker finishes it as attempt 2, once, with one file."""
    top_up(60_000)
    first = queue.start_worker("first")
    audit = queue_export(staff, "user_points", "xlsx").audit
    wait_for(lambda: ExportAudit.objects.get(pk=audit.pk).row_count > 0, what="progress")
    os.kill(queue.busy_process(first), signal.SIGKILL)
    midway = ExportAudit.objects.get(pk=audit.pk)
    assert midway.status == ExportStatus.RUNNING and midway.row_count < 60_000
    if queue.name == "celery":  # acks_late, reject_on_worker_lost: the job comes back at once
        skipped = f"export {audit.pk} is not queued any more"
        wait_for(lambda: queue.logged(skipped), what="the redelivered job to find it running")
    queue.start_worker("second")

    def stale() -> bool:
        beat = ExportAudit.objects.get(pk=audit.pk).heartbeat_at
        return beat < timezone.now() - timedelta(seconds=6.5)

    wait_for(stale, what="the killed attempt to go stale")
    queue.manage("exports_clock", "--once")
    done = wait_for(lambda: ended(audit), timeout=120, what="attempt 2 to finish")
    assert done.status == ExportStatus.COMPLETED, done.error
    assert done.attempts == 2 and done.row_count == 60_000 and done.reserved_bytes == 0
    assert ExportAudit.objects.filter(status=ExportStatus.COMPLETED).count() == 1
    file = DownloadFile.objects.get(audit=audit)
    files = [p.relative_to(exports_root).as_posix() for p in exports_root.rglob("*") if p.is_file()]
    assert files == [file.stored_name]
    no_django_q()
