"""Two qcluster processes on Redis, both asked to look for due schedules at the same moment:
the due schedule runs once, with one export and one file."""

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Task
from django_q.status import Stat
from django_q.tasks import async_task

from exports.models import ExportAudit, RunStatus, ScheduleRun
from tests.conftest import make_user, wait_for
from tests.schedules import saved_export, schedule_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
LOOKS = 8


def test_two_clusters_on_redis_do_not_double_run_a_due_schedule(
    redis_broker,
    start_qcluster,
    smtp_server,
    demo_data,
):
    owner = make_user("owner", staff=True, export=True)
    schedule = schedule_for(saved_export(owner))
    _, smtp_port = smtp_server
    env = {
        "Q_BROKER": "redis",
        "REDIS_URL": redis_broker,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
    }
    start_qcluster(env, "cluster-a")
    start_qcluster(env, "cluster-b")
    wait_for(lambda: len(Stat.get_all(get_broker())) >= 2, 60, "both clusters to start")

    looks = [async_task("exports.jobs.scheduled.run_due_task") for _ in range(LOOKS)]
    done = wait_for(
        lambda: Task.objects.filter(id__in=looks).count() == LOOKS,
        120,
        "every look for due schedules to finish",
    )
    assert done
    results = [Task.get_result(task_id) for task_id in looks]
    assert sum(r["runs"] for r in results) == 1
    assert len({r["pid"] for r in results}) == 2, "both clusters looked"

    run = wait_for(
        lambda: ScheduleRun.objects.exclude(status="running").first(), 120, "the run to finish"
    )
    assert run.status == RunStatus.COMPLETED, run.message
    assert ScheduleRun.objects.count() == 1
    assert ExportAudit.objects.filter(schedule=schedule).count() == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now()
