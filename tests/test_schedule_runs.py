"""Schedules run in-process (the queue is beside the point here; see test_schedule_worker.py and
scaleout/test_schedules_redis.py for real workers): recipients, the sent log, pausing."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from exports.models import (
    DeliveryStatus,
    DownloadFile,
    ExportAudit,
    ExportSchedule,
    PendingRow,
    RunStatus,
    ScheduleRecipient,
    ScheduleRun,
    SentRange,
    Trigger,
)
from exports.scheduling.due import run_due
from exports.signals import export_delivered, export_finished
from project.demo.models import UserPoint
from project.demo.seed import top_up
from tests.conftest import make_user
from tests.schedules import (
    delivered_file,
    finish_exports,
    ids_in,
    run_and_deliver,
    saved_export,
    schedule_for,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]


def all_ids() -> list[int]:
    return list(UserPoint.objects.order_by("pk").values_list("pk", flat=True))


@pytest.fixture
def owner(db):
    return make_user("owner", staff=True, export=True)


@pytest.fixture
def incremental(owner, demo_data) -> ExportSchedule:
    return schedule_for(saved_export(owner), incremental=True)


def test_an_incremental_schedule_sends_the_backlog_then_only_new_rows(owner, incremental):
    first = run_and_deliver(incremental)
    assert first.status == RunStatus.COMPLETED
    assert ids_in(delivered_file(first, owner)) == all_ids()
    before = set(all_ids())

    top_up(350)
    second = run_and_deliver(incremental)
    new = sorted(set(all_ids()) - before)
    assert len(new) == 50
    assert ids_in(delivered_file(second, owner)) == new
    assert second.deliveries.get().rows == 50

    third = run_and_deliver(incremental)
    [delivery] = third.deliveries.all()
    assert delivery.status == DeliveryStatus.EMPTY and delivery.audit is None
    assert third.status == RunStatus.COMPLETED


def test_the_sent_log_keeps_consecutive_rows_as_one_range(owner, incremental):
    run_and_deliver(incremental)
    top_up(350)
    run_and_deliver(incremental)
    ranges = list(SentRange.objects.order_by("lo").values_list("lo", "hi"))
    ids = all_ids()
    assert ranges == [(ids[0], ids[299]), (ids[300], ids[-1])]
    assert not PendingRow.objects.exists()


def test_a_recipient_added_later_gets_the_backlog(owner, incremental):
    run_and_deliver(incremental)
    bob = make_user("bob", export=True)
    ScheduleRecipient.objects.create(schedule=incremental, user=bob)
    top_up(320)
    second = run_and_deliver(incremental)
    assert ids_in(delivered_file(second, bob)) == all_ids()
    assert len(ids_in(delivered_file(second, owner))) == 20


def test_widening_the_filters_sends_what_now_matches_and_was_never_sent(owner, demo_data):
    game = UserPoint.objects.order_by("pk").first().game_id
    saved = saved_export(owner, filters={"conditions": {"game": game}})
    schedule = schedule_for(saved, incremental=True)
    first = run_and_deliver(schedule)
    in_game = list(UserPoint.objects.filter(game=game).order_by("pk").values_list("pk", flat=True))
    assert ids_in(delivered_file(first, owner)) == in_game
    saved.filters = {}
    saved.save()
    second = run_and_deliver(schedule)
    assert ids_in(delivered_file(second, owner)) == sorted(set(all_ids()) - set(in_game))


def test_a_failed_export_leaves_its_rows_unlogged_and_they_go_out_next_run(
    owner, incremental, settings
):
    settings.EXPORTS_USER_QUOTA_MB = 0.000001  # about one byte: the export fails
    first = run_and_deliver(incremental)
    [delivery] = first.deliveries.all()
    assert delivery.status == DeliveryStatus.FAILED
    assert "quota" in delivery.error
    assert first.status == RunStatus.FAILED
    assert not SentRange.objects.exists() and not PendingRow.objects.exists()

    settings.EXPORTS_USER_QUOTA_MB = 1024
    top_up(310)
    second = run_and_deliver(incremental)
    assert ids_in(delivered_file(second, owner)) == all_ids()
    incremental.refresh_from_db()
    assert incremental.failures_in_row == 0


def test_a_non_incremental_schedule_sends_everything_every_time(owner, demo_data):
    schedule = schedule_for(saved_export(owner))
    run_and_deliver(schedule)
    second = run_and_deliver(schedule)
    assert ids_in(delivered_file(second, owner)) == all_ids()


def test_each_recipient_gets_a_file_of_their_own(owner, demo_data):
    team = Group.objects.create(name="team")
    ann, ben = make_user("ann", export=True), make_user("ben", export=True)
    team.user_set.add(ann, ben, owner)
    schedule = schedule_for(saved_export(owner))
    ScheduleRecipient.objects.create(schedule=schedule, group=team)
    done = run_and_deliver(schedule)
    files = {d.user: DownloadFile.objects.get(audit=d.audit) for d in done.deliveries.all()}
    assert set(files) == {owner, ann, ben}, "the owner once, though also in the group"
    assert len({f.stored_name for f in files.values()}) == 3
    assert all(f.owner == user for user, f in files.items())
    files[ann].delete()
    assert files[ben].open().read(), "deleting one recipient's file leaves the others"


def test_a_recipient_who_may_not_export_is_skipped_and_the_run_says_so(owner, demo_data):
    schedule = schedule_for(saved_export(owner))
    ScheduleRecipient.objects.create(schedule=schedule, user=make_user("carol"))
    done = run_and_deliver(schedule)
    skipped = done.deliveries.get(user__username="carol")
    assert skipped.status == DeliveryStatus.SKIPPED and skipped.audit is None
    assert done.status == RunStatus.COMPLETED
    assert "carol may not export User points; skipped." in done.message
    assert not DownloadFile.objects.filter(owner__username="carol").exists()


@pytest.mark.parametrize("change", ["deactivate", "revoke"])
def test_an_owner_who_may_no_longer_export_fails_the_run_and_pauses_it(owner, demo_data, change):
    schedule = schedule_for(saved_export(owner))
    if change == "deactivate":
        owner.is_active = False
        owner.save()
        reason = "The owner's account (owner) is deactivated."
    else:
        owner.user_permissions.remove(Permission.objects.get(codename="export_data"))
        reason = "owner may no longer export User points."
    [done] = run_due()
    assert done.status == RunStatus.FAILED and done.message == reason
    assert not done.deliveries.exists() and not ExportAudit.objects.exists()
    schedule.refresh_from_db()
    assert schedule.paused and schedule.paused_reason == reason


def test_after_max_failures_in_a_row_the_schedule_pauses_and_tells_its_owner(
    owner, demo_data, settings
):
    settings.EXPORTS_SCHEDULE_MAX_FAILURES = 3
    settings.EXPORTS_ALLOWED_EMAIL_DOMAINS = ["partner.example"]
    schedule = schedule_for(saved_export(owner, name="Weekly points"))
    ScheduleRecipient.objects.create(schedule=schedule, email="ops@partner.example")
    settings.EXPORTS_ALLOWED_EMAIL_DOMAINS = []  # withdrawn after the schedule was saved
    for expected in (1, 2):
        assert run_and_deliver(schedule).status == RunStatus.FAILED
        schedule.refresh_from_db()
        assert (schedule.failures_in_row, schedule.paused) == (expected, False)
    mail.outbox.clear()
    run_and_deliver(schedule)
    schedule.refresh_from_db()
    assert schedule.paused and schedule.paused_reason.startswith("3 runs in a row failed.")
    [note] = [m for m in mail.outbox if m.subject == "Paused: Weekly points"]
    assert note.to == [owner.email]
    assert "ops@partner.example is an outside address" in note.body


def test_a_paused_schedule_does_not_run(owner, demo_data):
    schedule_for(saved_export(owner), paused=True)
    assert run_due() == []
    assert not ScheduleRun.objects.exists() and not ExportAudit.objects.exists()


def test_runs_missed_while_the_workers_were_down_run_once(owner, demo_data):
    five_days_ago = timezone.now() - timedelta(days=5)
    schedule = schedule_for(saved_export(owner), next_run_at=five_days_ago)
    [done] = run_due()
    assert done.due_at == five_days_ago and done.trigger == Trigger.SCHEDULE
    assert run_due() == []
    schedule.refresh_from_db()
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(days=1)


@pytest.mark.postgres_only  # needs PostgreSQL's row locks (skip_locked)
def test_two_claimers_at_the_same_moment_start_one_run(owner, demo_data):
    schedule = schedule_for(saved_export(owner))
    start = threading.Barrier(4)
    started: list[int] = []

    def claim() -> None:
        try:
            start.wait()
            started.extend(run.pk for run in run_due())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1
    assert ScheduleRun.objects.filter(schedule=schedule).count() == 1
    assert ExportAudit.objects.filter(schedule=schedule).count() == 1


def test_every_run_is_an_ordinary_audited_export_with_its_trigger(owner, demo_data, settings):
    schedule = schedule_for(saved_export(owner), lifetime_hours=72)
    [scheduled] = run_due()
    manual = run_and_deliver(schedule)
    finish_exports(scheduled)
    audits = {a.trigger: a for a in ExportAudit.objects.filter(schedule=schedule)}
    assert set(audits) == {Trigger.SCHEDULE, Trigger.MANUAL}
    assert audits[Trigger.MANUAL].pk == manual.deliveries.get().audit_id
    file = DownloadFile.objects.get(audit=audits[Trigger.SCHEDULE])
    assert file.expires_at - file.created_at == timedelta(hours=72)


def test_the_signals_tell_a_host_about_finished_and_delivered_exports(owner, demo_data):
    heard: list[tuple] = []

    def on_finished(sender, audit, status, **kwargs):
        heard.append(("finished", status))

    def on_delivered(sender, delivery, audit, recipient, **kwargs):
        heard.append(("delivered", recipient, audit.pk == delivery.audit_id))

    export_finished.connect(on_finished)
    export_delivered.connect(on_delivered)
    try:
        run_and_deliver(schedule_for(saved_export(owner)))
    finally:
        export_finished.disconnect(on_finished)
        export_delivered.disconnect(on_delivered)
    # Receivers run in the order they were connected: the schedule's own (delivery) first.
    assert sorted(heard) == [("delivered", "owner", True), ("finished", "completed")]


def test_run_export_schedule_prints_the_audit_ids_it_created(owner, demo_data, capsys):
    schedule = schedule_for(saved_export(owner))
    ScheduleRecipient.objects.create(schedule=schedule, user=make_user("dan", export=True))
    call_command("run_export_schedule", str(schedule.pk), "--inline")
    printed = capsys.readouterr().out.split()
    audits = ExportAudit.objects.filter(schedule=schedule)
    assert sorted(printed) == sorted(str(a.pk) for a in audits) and len(printed) == 2
    assert all(a.status == "completed" and a.trigger == Trigger.MANUAL for a in audits)
    schedule.refresh_from_db()
    assert schedule.next_run_at < timezone.now(), "running now leaves the next due run alone"
