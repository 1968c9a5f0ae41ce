"""Exactly-once exports: the claim, the attempt fence, the heartbeat, the sweeper, the check."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule

from exports.checks import check_queue_timing
from exports.jobs.accept import queue_export
from exports.jobs.heartbeat import Heartbeat
from exports.jobs.runner import ExportCancelled, claim, progress_reporter, run
from exports.jobs.schedules import SWEEP_SCHEDULE, ensure_schedules
from exports.jobs.sweeper import sweep
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def jobs_for(audit: ExportAudit) -> int:
    return sum(1 for job in OrmQ.objects.all() if job.name() == f"export-{audit.pk}")


def running(staff, *, beat_ago: float, attempts: int = 1, **extra) -> ExportAudit:
    then = timezone.now() - timedelta(seconds=beat_ago)
    return ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by=staff,
        requested_by_display=staff.username,
        status=ExportStatus.RUNNING,
        attempts=attempts,
        started_at=then,
        heartbeat_at=then,
        reserved_bytes=1234,
        **extra,
    )


def test_the_check_refuses_a_retry_not_above_the_timeout(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 60, "retry": 60}
    assert [e.id for e in check_queue_timing()] == ["exports.E001"]
    with pytest.raises(SystemCheckError, match="exports.E001"):
        call_command("check")
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 60, "retry": 90}
    assert check_queue_timing() == []


def test_the_check_refuses_a_staleness_shorter_than_two_heartbeats(settings):
    settings.EXPORTS_HEARTBEAT_SECONDS, settings.EXPORTS_STALE_SECONDS = 30, 45
    assert [e.id for e in check_queue_timing()] == ["exports.E002"]


def test_the_sweeper_schedule_is_created_once():
    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=SWEEP_SCHEDULE)
    assert schedule.func == "exports.jobs.sweeper.sweep_task"
    assert schedule.repeats == -1 and schedule.minutes == 1


def test_a_stale_export_is_requeued_then_completed_by_its_next_attempt(staff, demo_data, settings):
    settings.EXPORTS_STALE_SECONDS, settings.EXPORTS_MAX_ATTEMPTS = 60, 2
    audit = running(staff, beat_ago=61)
    swept = sweep()
    assert swept.requeued == [str(audit.pk)]
    audit.refresh_from_db()
    assert audit.status == ExportStatus.QUEUED and audit.reserved_bytes == 0
    assert "attempt 1" in audit.notes
    assert jobs_for(audit) == 1, "sent to the broker again"
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED and audit.attempts == 2
    assert DownloadFile.objects.filter(audit=audit).count() == 1


def test_a_stale_export_out_of_attempts_fails_with_its_reason(staff, settings):
    settings.EXPORTS_STALE_SECONDS, settings.EXPORTS_MAX_ATTEMPTS = 60, 2
    audit = running(staff, beat_ago=61, attempts=2)
    assert sweep().failed == [str(audit.pk)]
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED and audit.finished_at is not None
    assert "stopped responding (attempt 2 of 2)" in audit.error
    assert audit.reserved_bytes == 0
    assert jobs_for(audit) == 0


def test_live_exports_are_left_alone(staff, settings):
    settings.EXPORTS_STALE_SECONDS = 60
    alive = running(staff, beat_ago=5)
    web = running(staff, beat_ago=120, delivery=Delivery.IMMEDIATE)
    swept = sweep()
    assert swept.requeued == swept.failed == []
    assert ExportAudit.objects.get(pk=alive.pk).status == ExportStatus.RUNNING
    assert ExportAudit.objects.get(pk=web.pk).status == ExportStatus.RUNNING
    settings.EXPORTS_IMMEDIATE_STALE_SECONDS = 100
    assert sweep().failed == [str(web.pk)], "an immediate download is failed, never resent"


def test_a_queued_export_whose_job_was_lost_is_sent_again_once(staff, settings):
    settings.EXPORTS_REQUEUE_AFTER_SECONDS = 60
    lost = ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by=staff,
        requested_by_display=staff.username,
        queued_at=timezone.now() - timedelta(seconds=61),
    )
    assert jobs_for(lost) == 0
    assert sweep().resent == [str(lost.pk)]
    assert jobs_for(lost) == 1
    assert sweep().resent == [], "its job is in the broker now"


def test_a_queued_export_still_in_the_broker_is_not_sent_twice(staff, demo_data, settings):
    settings.EXPORTS_REQUEUE_AFTER_SECONDS = 60
    audit = queue_export(staff, "user_points", "csv").audit
    ExportAudit.objects.filter(pk=audit.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert sweep().resent == []
    assert jobs_for(audit) == 1


def test_a_job_taken_by_a_cluster_that_died_is_sent_again_after_the_requeue_delay(
    staff, demo_data, settings
):
    """Found by the chaos run: a SIGKILLed qcluster's prefetched jobs stayed locked in the ORM
    broker for Q_RETRY (over an hour by default) and their exports waited that long."""
    settings.EXPORTS_REQUEUE_AFTER_SECONDS = 60
    audit = queue_export(staff, "user_points", "csv").audit
    ExportAudit.objects.filter(pk=audit.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    retry = timedelta(seconds=Conf.RETRY)
    OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=30) + retry)  # taken 30 s ago
    assert sweep().resent == [], "a cluster took it moments ago: leave it to that cluster"
    OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=61) + retry)  # taken 61 s ago
    assert sweep().resent == [str(audit.pk)]
    assert jobs_for(audit) == 2  # the stale one and the new one: only one can claim


def test_an_attempt_the_sweeper_replaced_can_no_longer_write(staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    first = claim(str(audit.pk))
    assert first.attempts == 1
    assert claim(str(audit.pk)) is None, "one winner per delivery"
    ExportAudit.objects.filter(pk=audit.pk).update(status=ExportStatus.QUEUED)  # as the sweeper
    second = claim(str(audit.pk))
    assert second.attempts == 2
    with pytest.raises(ExportCancelled):
        progress_reporter(audit.pk, attempt=1)(100)
    progress_reporter(audit.pk, attempt=2)(100)
    assert ExportAudit.objects.get(pk=audit.pk).row_count == 100


def test_the_heartbeat_beats_without_rows_and_stops_when_the_export_is_not_ours(staff):
    audit = running(staff, beat_ago=600)
    before = audit.heartbeat_at
    with Heartbeat(audit.pk, audit.attempts, every=0.05) as beat:
        wait_for(
            lambda: ExportAudit.objects.get(pk=audit.pk).heartbeat_at > before,
            timeout=10,
            what="a heartbeat",
        )
        ExportAudit.objects.filter(pk=audit.pk).update(status=ExportStatus.CANCELLED)
        wait_for(lambda: beat.lost, timeout=10, what="the heartbeat to notice")
    assert not beat.thread.is_alive()


def test_a_job_delivered_twice_runs_once(staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.attempts == 1
    assert DownloadFile.objects.filter(audit=audit).count() == 1
