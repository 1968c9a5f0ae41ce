"""Saved exports and schedules in the admin and on My downloads: save as…, run again, keep
longer, the lifetime option, sharing, the schedule form and its recipients, pause/resume."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.jobs.runner import run
from exports.models import (
    DownloadFile,
    ExportAudit,
    ExportSchedule,
    SavedExport,
    ScheduleRecipient,
    Trigger,
)
from project.demo.models import Game, UserPoint
from tests import second_site
from tests.conftest import make_user
from tests.factories import finished_file
from tests.schedules import run_and_deliver, saved_export, schedule_for
from tests.test_admin_export import confirm, post_action

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]
SCHEDULE_ADD = "admin:exports_exportschedule_add"


def test_the_options_page_saves_the_changelist_filters_never_ids(client, staff, demo_data):
    client.force_login(staff)
    game = Game.objects.order_by("pk").first()
    query = f"?game__id__exact={game.pk}"
    page = post_action(client, {"select_across": "1", "_selected_action": [1]}, query)
    assert "Save this export as…" in page.content.decode()
    data, _ = confirm(select_across=True, format="xlsx", save_as="Save")
    data.update(save_as_name="Points of one game", lifetime_hours="48")
    response = post_action(client, data, query)
    saved = SavedExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:exports_savedexport_change", args=[saved.pk])
    assert (saved.name, saved.owner, saved.dataset, saved.format) == (
        "Points of one game",
        staff,
        "admin:demo.userpoint",
        "xlsx",
    )
    assert saved.filters["changelist"] == f"game__id__exact={game.pk}"
    assert "conditions" not in saved.filters  # never a list of ids
    assert saved.options == {
        "lifetime_hours": 48,
        "time_zone": "UTC",
        "site_url": "http://testserver",
    }
    assert not ExportAudit.objects.exists(), "saving runs nothing"


def test_selected_rows_cannot_be_saved_as_a_list_of_ids(client, staff, demo_data):
    client.force_login(staff)
    ids = list(UserPoint.objects.values_list("pk", flat=True)[:3])
    page = post_action(client, {"_selected_action": ids}).content.decode()
    assert "Save this export as…" not in page
    data, _ = confirm(ids, save_as="Save", save_as_name="Three rows")
    response = post_action(client, data)
    assert not SavedExport.objects.exists()
    assert "never a list of selected rows" in client.get(response["Location"]).content.decode()


def test_the_datasets_page_saves_its_filters(client, staff, demo_data):
    client.force_login(staff)
    game = Game.objects.order_by("pk").first()
    fields = {"dataset": "user_points", "game": str(game.pk), "task": "", "limit": "50"}
    fields.update(format="csv", delivery="background", save_as="Save", save_as_name="Game")
    client.post(reverse("admin:exports_datasetexport_changelist"), fields)
    saved = SavedExport.objects.get()
    assert saved.dataset == "user_points"
    assert saved.filters == {"conditions": {"game": game.pk}, "limit": 50}


def test_a_finished_export_can_be_run_again_from_my_downloads(client, staff, demo_data):
    file = finished_file(staff)
    client.force_login(staff)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert reverse("exports:run-again", args=[file.audit_id]) in page
    response = client.post(reverse("exports:run-again", args=[file.audit_id]))
    assert response.status_code == 302
    again = ExportAudit.objects.exclude(pk=file.audit_id).get()
    assert (again.dataset, again.trigger, again.requested_by) == ("user_points", "rerun", staff)


def test_run_again_checks_the_permissions_of_today(client, staff, demo_data):
    file = finished_file(staff)
    staff.user_permissions.clear()
    client.force_login(staff)
    response = client.post(reverse("exports:run-again", args=[file.audit_id]), follow=True)
    assert "Not run again: You do not have permission" in response.content.decode()
    assert ExportAudit.objects.count() == 1


def test_nobody_runs_somebody_elses_export_again(client, staff, demo_data):
    file = finished_file(make_user("alice", export=True))
    client.force_login(staff)
    assert client.post(reverse("exports:run-again", args=[file.audit_id])).status_code == 404
    assert client.get(reverse("exports:run-again", args=[file.audit_id])).status_code == 405


def test_keep_longer_adds_24_hours_up_to_the_maximum(client, staff, settings):
    settings.EXPORTS_MAX_FILE_LIFETIME = 48 * 3600
    file = finished_file(staff, expires_in=timedelta(hours=20))
    client.force_login(staff)
    url = reverse("exports:keep-longer", args=[file.pk])
    client.post(url)
    first = DownloadFile.objects.get(pk=file.pk).expires_at
    assert first - file.expires_at == timedelta(hours=24)
    client.post(url)
    capped = DownloadFile.objects.get(pk=file.pk).expires_at
    assert capped == file.created_at + timedelta(hours=48)
    response = client.post(url, follow=True)
    assert "already kept as long as files may be kept" in response.content.decode()


def test_keep_longer_is_refused_over_the_quota(client, staff, settings):
    file = finished_file(staff, body=b"x" * 4096)
    settings.EXPORTS_USER_QUOTA_MB = 0.001
    client.force_login(staff)
    response = client.post(reverse("exports:keep-longer", args=[file.pk]), follow=True)
    assert "more than your storage quota" in response.content.decode()
    assert DownloadFile.objects.get(pk=file.pk).expires_at == file.expires_at


def test_an_export_keeps_its_file_as_long_as_it_asked_never_longer_than_allowed(
    staff, demo_data, settings
):
    from exports.jobs.accept import queue_export

    settings.EXPORTS_MAX_FILE_LIFETIME = 72 * 3600
    asked = queue_export(staff, "user_points", "csv", {}, {"lifetime_hours": 48}).audit
    greedy = queue_export(staff, "user_points", "json", {}, {"lifetime_hours": 1000}).audit
    for audit in (asked, greedy):
        run(str(audit.pk))
    lifetimes = {f.audit_id: f.expires_at - f.created_at for f in DownloadFile.objects.all()}
    assert lifetimes == {asked.pk: timedelta(hours=48), greedy.pk: timedelta(hours=72)}


def test_a_shared_saved_export_is_read_only_for_the_group_but_runnable(client, staff, demo_data):
    team = Group.objects.create(name="team")
    colleague = make_user("colleague", staff=True, export=True)
    colleague.groups.add(team)
    saved = saved_export(staff, name="Team points")
    saved.shared_with.add(team)
    client.force_login(colleague)
    change = reverse("admin:exports_savedexport_change", args=[saved.pk])
    page = client.get(change).content.decode()
    assert "Team points" in page and 'name="name"' not in page, "shown, not editable"
    assert client.post(change, {"name": "Mine now", "format": "csv"}).status_code == 403
    client.post(
        reverse("admin:exports_savedexport_changelist"),
        {"action": "run_saved_now", "_selected_action": [saved.pk]},
    )
    audit = ExportAudit.objects.get()
    assert (audit.requested_by, audit.saved_export, audit.trigger) == (
        colleague,
        saved,
        Trigger.RERUN,
    )
    outsider = make_user("outsider", staff=True, export=True)
    client.force_login(outsider)
    assert client.get(change).status_code == 302, "not in their list: the admin redirects"


def schedule_form(saved: SavedExport, **fields) -> dict:
    data = {
        "saved_export": saved.pk,
        "kind": "weekly",
        "every": "1",
        "unit": "days",
        "weekdays": ["0", "3"],
        "at_time": "07:00",
        "cron": "",
        "starts_at_0": "2026-01-01",
        "starts_at_1": "00:00",
        "skip_empty": "unknown",
        "lifetime_hours": "",
        "recipients-TOTAL_FORMS": "1",
        "recipients-INITIAL_FORMS": "0",
        "recipients-0-user": "",
        "recipients-0-group": "",
        "recipients-0-email": "",
    }
    data.update(fields)
    return data


def test_the_schedule_form_computes_the_next_run(client, staff, demo_data):
    saved = saved_export(staff)
    client.force_login(staff)
    response = client.post(reverse(SCHEDULE_ADD), schedule_form(saved, incremental="on"))
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = ExportSchedule.objects.get()
    assert schedule.weekdays == [0, 3] and schedule.incremental
    assert schedule.next_run_at > timezone.now()
    assert timezone.localtime(schedule.next_run_at).weekday() in (0, 3)


def test_an_outside_address_outside_the_allowed_domains_is_refused_with_a_clear_message(
    client, staff, demo_data, settings
):
    settings.EXPORTS_ALLOWED_EMAIL_DOMAINS = ["partner.example"]
    client.force_login(staff)
    data = schedule_form(saved_export(staff), **{"recipients-0-email": "me@gmail.example"})
    page = client.post(reverse(SCHEDULE_ADD), data).content.decode()
    assert (
        "me@gmail.example is not in a domain this site may send files to; allowed: partner.example."
    ) in page
    assert not ExportSchedule.objects.exists() and not ScheduleRecipient.objects.exists()


def test_a_bad_cron_expression_is_refused_with_the_field_named(client, staff, demo_data):
    client.force_login(staff)
    data = schedule_form(saved_export(staff), kind="cron", cron="61 * * * *")
    page = client.post(reverse(SCHEDULE_ADD), data).content.decode()
    assert "61 is outside the minute field&#x27;s 0-59." in page
    assert not ExportSchedule.objects.exists()


def test_incremental_needs_an_integer_primary_key(client, staff, demo_data):
    client.force_login(staff)
    saved = saved_export(staff, dataset="admin:exports.exportaudit")
    page = client.post(reverse(SCHEDULE_ADD), schedule_form(saved, incremental="on"))
    assert "primary key is an integer" in page.content.decode()


def test_owners_see_their_own_schedules_only(client, staff, demo_data):
    mine = schedule_for(saved_export(staff, name="Mine"))
    theirs = schedule_for(saved_export(make_user("other", export=True), name="Theirs"))
    client.force_login(staff)
    page = client.get(reverse("admin:exports_exportschedule_changelist")).content.decode()
    assert "Mine (#" in page and "Theirs (#" not in page
    change = reverse("admin:exports_exportschedule_change", args=[theirs.pk])
    assert client.get(change).status_code == 302
    assert mine.pk != theirs.pk


def test_my_downloads_lists_my_schedules_and_pauses_and_resumes_them(client, staff, demo_data):
    schedule = schedule_for(saved_export(staff, name="Weekly points"), incremental=True)
    client.force_login(staff)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert "Scheduled" in page and "Weekly points" in page and "only new rows" in page
    pause = reverse("exports:schedule-pause", args=[schedule.pk])
    assert client.get(pause).status_code == 405
    client.post(pause)
    schedule.refresh_from_db()
    assert schedule.paused and schedule.next_run_at is None
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert "Paused by staffer." in page
    client.post(reverse("exports:schedule-resume", args=[schedule.pk]))
    schedule.refresh_from_db()
    assert not schedule.paused and schedule.next_run_at > timezone.now()


def test_nobody_pauses_somebody_elses_schedule(client, staff, demo_data):
    theirs = schedule_for(saved_export(make_user("other", export=True)))
    client.force_login(staff)
    assert client.post(reverse("exports:schedule-pause", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.paused


def test_the_new_buttons_need_a_csrf_token(staff, demo_data):
    file = finished_file(staff)
    schedule = schedule_for(saved_export(staff))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    urls = [
        reverse("exports:run-again", args=[file.audit_id]),
        reverse("exports:keep-longer", args=[file.pk]),
        reverse("exports:schedule-pause", args=[schedule.pk]),
        reverse("exports:schedule-resume", args=[schedule.pk]),
    ]
    for url in urls:
        assert browser.post(url).status_code == 403, url
    assert ExportAudit.objects.count() == 1
    assert DownloadFile.objects.get(pk=file.pk).expires_at == file.expires_at
    schedule.refresh_from_db()
    assert not schedule.paused


def test_the_audit_row_shows_what_triggered_it(admin_client, staff, demo_data):
    schedule = schedule_for(saved_export(staff, name="Weekly points"))
    audit = run_and_deliver(schedule).deliveries.get().audit
    page = admin_client.get(reverse("admin:exports_exportaudit_change", args=[audit.pk]))
    text = page.content.decode()
    assert "Trigger" in text and "Manual" in text
    assert f"Weekly points (#{schedule.pk})" in text


def test_a_shared_saved_export_runs_in_the_runners_request_context(client, settings, demo_data):
    """Saved on the second site by acme's owner; a colleague of globex runs it from their own
    page: their tenant and host, never the owner's (TenantPointAdmin lists by both)."""
    settings.ROOT_URLCONF = "tests.second_site"
    settings.ALLOWED_HOSTS = ["testserver", second_site.TENANT_HOST]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.second_site.TenantMiddleware"]
    acme, globex = Game.objects.order_by("pk")[:2]
    owner = make_user("owner", staff=True, export=True)
    colleague = make_user("colleague", staff=True, export=True)
    team = Group.objects.create(name="team")
    colleague.groups.add(team)
    context = {
        "site": "second",
        "path": "/second/demo/userpoint/",
        "scheme": "http",
        "meta": {"HTTP_HOST": second_site.TENANT_HOST},
        "attrs": {"tenant": {"model": "demo.Game", "pk": acme.pk}},
    }
    saved = saved_export(owner, dataset="admin:demo.userpoint", filters={"request": context})
    saved.shared_with.add(team)
    client.force_login(colleague)
    client.post(
        reverse("admin:exports_savedexport_changelist"),
        {"action": "run_saved_now", "_selected_action": [saved.pk]},
        headers={"host": second_site.TENANT_HOST, "x-tenant": str(globex.pk)},
    )
    audit = ExportAudit.objects.get()
    used = audit.filters["request"]
    assert used["attrs"] == {"tenant": {"model": "demo.Game", "pk": globex.pk}}
    assert (used["site"], used["meta"]["HTTP_HOST"]) == ("second", second_site.TENANT_HOST)
    run(str(audit.pk))
    with DownloadFile.objects.get(audit=audit).open() as handle:
        ids = [int(line.split(b",")[0]) for line in handle.read().splitlines()[1:]]
    games = set(UserPoint.objects.filter(pk__in=ids).values_list("game_id", flat=True))
    assert ids and games == {globex.pk}
