"""A due schedule end to end on the real worker: django-q2's scheduler enqueues the look for due
schedules, the qcluster runs it, runs each recipient's export and settles its delivery."""

from pathlib import Path

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from exportdesk_tools.processes import stop
from exports.jobs.schedules import DUE_SCHEDULE, ensure_schedules
from tests.conftest import spawn_qcluster, wait_for
from tests.schedules import assert_everyone_got_every_row, finished_run, shared_schedule

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def worker(smtp_server, exports_root: Path, tmp_path: Path):
    """The real qcluster, sending its e-mail to the test's SMTP server."""
    _, port = smtp_server
    env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
    proc = spawn_qcluster(exports_root, tmp_path / "qcluster.log", **env)
    try:
        yield proc
    finally:
        stop(proc)


def test_the_worker_runs_a_due_schedule_and_delivers_to_each_recipient(
    demo_data, smtp_server, worker
):
    owner, bob, schedule = shared_schedule()
    ensure_schedules()
    Schedule.objects.filter(name=DUE_SCHEDULE).update(next_run=timezone.now())
    scheduler(broker=get_broker())  # what each cluster does every 30 s
    run = wait_for(lambda: finished_run(schedule), timeout=120, what="the scheduled run")
    assert_everyone_got_every_row(run, owner, bob)
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now()
    received, _ = smtp_server
    assert sorted(m["To"] for m in received.messages) == ["bob@example.com", "owner@example.com"]
