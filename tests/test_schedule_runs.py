"""Schedules run in-process (the queue is beside the point here; see test_schedule_worker.py and
scaleout/test_schedules_redis.py for real workers): recipients, the sent log, pausing."""

import random
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
from project.demo.models import Game, UserPoint
from project.demo.seed import top_up
from tests import second_site
from tests.conftest import make_user
from tests.hostapp.models import Deal
from tests.schedules import (
    colleagues,
    delivered_file,
    finish_exports,
    ids_in,
    run_and_deliver,
    saved_export,
    schedule_for,
)
from tests.test_exact_rows import SEED, people, seed_rows

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
    colleagues(owner, bob)
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


def test_a_recipient_who_may_not_export_is_skipped_and_the_run_counts_them(owner, demo_data):
    schedule = schedule_for(saved_export(owner))
    carol = make_user("carol")
    colleagues(owner, carol)
    ScheduleRecipient.objects.create(schedule=schedule, user=carol)
    done = run_and_deliver(schedule)
    skipped = done.deliveries.get(user__username="carol")
    assert skipped.status == DeliveryStatus.SKIPPED and skipped.audit is None
    assert done.status == RunStatus.COMPLETED
    assert done.message == "1 sent, 1 skipped; 1 skipped: May not export User points."
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
    dan = make_user("dan", export=True)
    colleagues(owner, dan)
    ScheduleRecipient.objects.create(schedule=schedule, user=dan)
    call_command("run_export_schedule", str(schedule.pk), "--inline")
    printed = capsys.readouterr().out.split()
    audits = ExportAudit.objects.filter(schedule=schedule)
    assert sorted(printed) == sorted(str(a.pk) for a in audits) and len(printed) == 2
    assert all(a.status == "completed" and a.trigger == Trigger.MANUAL for a in audits)
    schedule.refresh_from_db()
    assert schedule.next_run_at < timezone.now(), "running now leaves the next due run alone"


# --- Whose request a recipient's export replays; which admin site it is checked on ----------


def own_tenant(request) -> None:
    """A host's EXPORTS_PREPARE_REQUEST: each person's tenant (a Game, its pk kept in the
    user's last name here) on the tenant's host, as the host's middleware would set them."""
    request.tenant = Game.objects.filter(pk=request.user.last_name or None).first()
    request.META["HTTP_HOST"] = second_site.TENANT_HOST


def tenant_context(game: Game) -> dict:
    """filters["request"] of a changelist saved on the second site, for `game`'s tenant."""
    return {
        "site": "second",
        "path": "/second/demo/userpoint/",
        "scheme": "http",
        "meta": {"HTTP_HOST": second_site.TENANT_HOST},
        "attrs": {"tenant": {"model": "demo.Game", "pk": game.pk}},
    }


@pytest.fixture
def tenants(settings, owner, demo_data) -> tuple[Game, Game]:
    """The second site, whose TenantPointAdmin lists the request's tenant's rows only."""
    settings.ROOT_URLCONF = "tests.second_site"
    settings.ALLOWED_HOSTS = ["testserver", second_site.TENANT_HOST]
    first, second = Game.objects.order_by("pk")[:2]
    return first, second


def games_in(file: DownloadFile) -> set[int]:
    return set(UserPoint.objects.filter(pk__in=ids_in(file)).values_list("game_id", flat=True))


def test_a_recipient_never_gets_rows_of_the_owners_tenant(owner, tenants):
    acme, _ = tenants
    bob = make_user("bob", export=True)
    colleagues(owner, bob)
    saved = saved_export(
        owner, dataset="admin:demo.userpoint", filters={"request": tenant_context(acme)}
    )
    schedule = schedule_for(saved)
    ScheduleRecipient.objects.create(schedule=schedule, user=bob)
    done = run_and_deliver(schedule)
    assert games_in(delivered_file(done, owner)) == {acme.pk}, "the owner: their own tenant"
    refused = done.deliveries.get(user=bob)
    assert refused.status == DeliveryStatus.SKIPPED and refused.audit is None
    assert "without what the owner's request carried (tenant, host)" in refused.error
    assert "EXPORTS_PREPARE_REQUEST" in refused.error
    assert not DownloadFile.objects.filter(owner=bob).exists()
    assert "bob" not in done.message


def test_with_the_hosts_hook_a_recipient_gets_their_own_tenants_rows(owner, tenants, settings):
    acme, globex = tenants
    settings.EXPORTS_PREPARE_REQUEST = "tests.test_schedule_runs.own_tenant"
    owner.last_name = str(acme.pk)
    owner.save()
    bob = make_user("bob", export=True)
    bob.last_name = str(globex.pk)
    bob.save()
    colleagues(owner, bob)
    saved = saved_export(
        owner, dataset="admin:demo.userpoint", filters={"request": tenant_context(acme)}
    )
    schedule = schedule_for(saved)
    ScheduleRecipient.objects.create(schedule=schedule, user=bob)
    done = run_and_deliver(schedule)
    assert done.status == RunStatus.COMPLETED, done.message
    assert games_in(delivered_file(done, owner)) == {acme.pk}
    assert games_in(delivered_file(done, bob)) == {globex.pk}
    bobs = done.deliveries.get(user=bob).audit.filters["request"]
    assert "attrs" not in bobs and "meta" not in bobs, "none of the owner's context kept"


def test_a_changelist_saved_on_another_admin_site_is_checked_on_that_site(settings):
    """The crm site's DealAdmin: the default admin site has no Deal at all."""
    settings.EXPORTS_PREPARE_REQUEST = "tests.hostapp.middleware.prepare_replay"
    seed_rows(random.Random(SEED))
    found = people()
    manager, pair = found["manager"], found["pair"]
    colleagues(manager, pair)
    context = {"site": "crm", "path": "/crm/hostapp/deal/", "scheme": "http"}
    filters = {"changelist": "active=all", "request": context}  # its filter hides some rows
    saved = saved_export(manager, dataset="admin:hostapp.deal", filters=filters)
    schedule = schedule_for(saved)
    ScheduleRecipient.objects.create(schedule=schedule, user=pair)
    done = run_and_deliver(schedule)
    assert done.status == RunStatus.COMPLETED, done.message
    assert {d.status for d in done.deliveries.all()} == {DeliveryStatus.SENT}
    schedule.refresh_from_db()
    assert not schedule.paused, schedule.paused_reason
    assert len(ids_in(delivered_file(done, manager))) == Deal.objects.count()
    assert set(ids_in(delivered_file(done, pair))) == set(
        Deal.objects.filter(department__in=[1, 2]).values_list("pk", flat=True)
    )
