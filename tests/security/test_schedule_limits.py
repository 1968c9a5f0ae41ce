"""Schedules: how often they run, to how many and to whom, and the same per-person limits as
any export (issue 20: findings 3 and 4, and the schedule form's part of finding 7)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from exports.models import (
    PENDING,
    DeliveryStatus,
    ExportAudit,
    ExportSchedule,
    ScheduleRecipient,
)
from exports.scheduling.due import run_due
from exports.scheduling.recipients import NOT_ADDRESSABLE
from exports.scheduling.runs import run_now
from tests.conftest import make_user
from tests.factories import finished_file
from tests.schedules import colleagues, run_and_deliver, saved_export, schedule_for
from tests.test_saved_exports import SCHEDULE_ADD, schedule_form

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]
AT_THE_LIMIT = (
    "At the limit of 3 exports queued or running per person (EXPORTS_MAX_PENDING_PER_USER)."
)


def refused(client, saved, **fields):
    """The add form posted with `fields`: shown again (never a 500), nothing saved."""
    response = client.post(reverse(SCHEDULE_ADD), schedule_form(saved, **fields))
    assert response.status_code == 200
    assert not ExportSchedule.objects.exists()
    return response


def field_errors(response) -> dict:
    return response.context["adminform"].form.errors


def recipient_errors(response) -> tuple[list, list]:
    """(errors of each recipient line, errors of the recipients together)."""
    formset = response.context["inline_admin_formsets"][0].formset
    return formset.errors, formset.non_form_errors()


# --- Finding 7: bad timing input is a form error on its field ---------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"kind": "cron", "cron": "² * * * *"}, "cron", "'²' is not a number"),
        ({"kind": "interval", "every": "2147483647", "unit": "hours"}, "every", "At most"),
        ({"kind": "interval", "every": "400", "unit": "days"}, "every", "At most every 366"),
        ({"starts_at_0": "9999-12-31"}, "starts_at", "within 10 years"),
    ],
)
def test_bad_timing_input_is_a_form_error_on_its_field(client, staff, fields, field, says):
    client.force_login(staff)
    errors = field_errors(refused(client, saved_export(staff), **fields))
    assert says in " ".join(errors[field])


# --- Finding 3: how often, how many, and the limits of each person ----------------------------


@pytest.mark.parametrize(
    ("fields", "field", "gap"),
    [
        ({"kind": "cron", "cron": "* * * * *"}, "cron", "1 minute"),
        ({"kind": "cron", "cron": "0,30 9 * * *"}, "cron", "30 minutes"),
        ({"kind": "cron", "cron": "@hourly"}, "cron", "60 minutes"),
        ({"kind": "cron", "cron": "30 0,23 * * *"}, "cron", "60 minutes"),  # over midnight
        ({"kind": "interval", "every": "1", "unit": "hours"}, "every", "60 minutes"),
    ],
)
def test_a_timing_that_runs_more_often_than_the_minimum_is_refused(
    client, staff, settings, fields, field, gap
):
    settings.EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES = 90
    client.force_login(staff)
    errors = field_errors(refused(client, saved_export(staff), **fields))
    assert errors[field] == [
        "Schedules here run at most every 90 minutes (EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES); "
        f"this one would run {gap} apart."
    ]


def test_an_hourly_schedule_is_accepted_under_the_default_minimum(client, staff):
    client.force_login(staff)
    fields = {"kind": "cron", "cron": "0 * * * *"}
    response = client.post(reverse(SCHEDULE_ADD), schedule_form(saved_export(staff), **fields))
    assert response.status_code == 302
    assert ExportSchedule.objects.get().cron == "0 * * * *"


def test_the_scheduler_never_runs_a_schedule_sooner_than_the_minimum(staff, demo_data):
    """Made in code (or saved before the setting): every minute, but never run so."""
    schedule = schedule_for(saved_export(staff), kind="cron", cron="* * * * *")
    [done] = run_due()
    schedule.refresh_from_db()
    assert schedule.next_run_at >= done.due_at + timedelta(minutes=60)
    assert run_due() == []


def test_a_run_never_takes_its_owner_past_their_pending_limit(staff, demo_data, settings):
    """Outside addresses are exported as the owner: the owner's file and two more are queued,
    the other six are skipped and the run says so."""
    settings.EXPORTS_MAX_PENDING_PER_USER = 3
    settings.EXPORTS_ALLOWED_EMAIL_DOMAINS = ["partner.example"]
    schedule = schedule_for(saved_export(staff))
    for n in range(8):
        ScheduleRecipient.objects.create(schedule=schedule, email=f"ops{n}@partner.example")
    done = run_now(schedule)
    assert ExportAudit.objects.filter(requested_by=staff, status__in=PENDING).count() == 3
    skipped = done.deliveries.filter(status=DeliveryStatus.SKIPPED)
    assert skipped.count() == 6 and not skipped.exclude(audit=None).exists()
    assert {d.error for d in skipped} == {AT_THE_LIMIT}
    done = run_now(schedule)
    assert done.deliveries.filter(status=DeliveryStatus.SKIPPED).count() == 9
    assert f"9 skipped: {AT_THE_LIMIT}" in done.message


def test_a_recipient_whose_quota_is_full_is_skipped_unnamed(staff, demo_data, settings):
    bob = make_user("bob", export=True)
    colleagues(staff, bob)
    finished_file(bob, body=b"x" * 4096)
    settings.EXPORTS_USER_QUOTA_MB = 0.001  # about 1 KiB: bob's file fills his
    schedule = schedule_for(saved_export(staff))
    ScheduleRecipient.objects.create(schedule=schedule, user=bob)
    done = run_now(schedule)
    bobs = done.deliveries.get(user=bob)
    assert (bobs.status, bobs.audit, bobs.error) == (
        DeliveryStatus.SKIPPED,
        None,
        "Their storage quota is full.",
    )
    assert done.deliveries.get(user=staff).status == DeliveryStatus.EXPORTING
    assert "bob" not in done.message


def test_more_recipients_than_a_schedule_may_have_are_refused_once_groups_expand(
    client, staff, settings
):
    settings.EXPORTS_SCHEDULE_MAX_RECIPIENTS = 2
    team = colleagues(staff, *(make_user(f"member{n}", export=True) for n in range(3)))
    client.force_login(staff)
    response = refused(client, saved_export(staff), **{"recipients-0-group": str(team.pk)})
    _, together = recipient_errors(response)
    assert together == [
        "These recipients are 3 people and addresses once groups are counted by their members; "
        "a schedule may deliver to at most 2 besides its owner (EXPORTS_SCHEDULE_MAX_RECIPIENTS)."
    ]


def test_a_group_that_grew_past_the_cap_gets_the_rest_skipped(staff, demo_data, settings):
    settings.EXPORTS_SCHEDULE_MAX_RECIPIENTS = 2
    team = colleagues(staff, *(make_user(f"member{n}", export=True) for n in range(3)))
    schedule = schedule_for(saved_export(staff))
    ScheduleRecipient.objects.create(schedule=schedule, group=team)
    done = run_and_deliver(schedule)
    statuses = list(done.deliveries.values_list("status", flat=True))
    assert statuses == [DeliveryStatus.SENT] * 3 + [DeliveryStatus.SKIPPED]
    assert (
        "1 skipped: Over the 2 recipients a schedule may have (EXPORTS_SCHEDULE_MAX_RECIPIENTS)."
    ) in done.message


# --- Finding 4: whom an owner may address -----------------------------------------------------


@pytest.fixture
def people(staff):
    """A colleague in staff's group; a stranger and a group staff is not in."""
    colleague = make_user("colleague", export=True)
    team = colleagues(staff, colleague)
    stranger = make_user("stranger", export=True)
    others = Group.objects.create(name="others")
    others.user_set.add(stranger)
    return {"colleague": colleague, "team": team, "stranger": stranger, "others": others}


def test_the_recipient_lists_offer_only_whom_the_owner_may_address(client, staff, people):
    client.force_login(staff)
    page = client.get(reverse(SCHEDULE_ADD)).content.decode()
    assert ">colleague</option>" in page and ">colleagues</option>" in page
    assert "stranger" not in page and ">others</option>" not in page


def test_a_stranger_is_refused_without_their_name_being_shown(client, staff, people):
    """Even on a form shown again for another error, the id's username never appears."""
    client.force_login(staff)
    fields = {"recipients-0-user": str(people["stranger"].pk), "kind": "cron", "cron": "x"}
    response = refused(client, saved_export(staff), **fields)
    [line], _ = recipient_errors(response)
    assert "Select a valid choice" in line["user"][0]
    assert "stranger" not in response.content.decode()


def test_a_group_the_owner_is_not_in_is_refused(client, staff, people):
    client.force_login(staff)
    response = refused(client, saved_export(staff), **{"recipients-0-group": people["others"].pk})
    [line], _ = recipient_errors(response)
    assert "Select a valid choice" in line["group"][0]


def test_a_colleague_and_the_owners_group_are_accepted(client, staff, people):
    client.force_login(staff)
    fields = {
        "recipients-TOTAL_FORMS": "2",
        "recipients-0-user": str(people["colleague"].pk),
        "recipients-1-group": str(people["team"].pk),
        "recipients-1-user": "",
        "recipients-1-email": "",
    }
    response = client.post(reverse(SCHEDULE_ADD), schedule_form(saved_export(staff), **fields))
    assert response.status_code == 302
    assert ExportSchedule.objects.get().recipients.count() == 2


def test_holders_of_send_to_anyone_may_name_anyone(client, staff, people):
    staff.user_permissions.add(Permission.objects.get(codename="send_to_anyone"))
    client.force_login(staff)
    fields = {"recipients-0-user": str(people["stranger"].pk)}
    response = client.post(reverse(SCHEDULE_ADD), schedule_form(saved_export(staff), **fields))
    assert response.status_code == 302
    assert ExportSchedule.objects.get().recipients.get().user == people["stranger"]


def test_a_superuser_editing_a_schedule_keeps_to_whom_its_owner_may_address(
    admin_client, staff, people
):
    """The superuser's list holds everyone; the owner's rule decides."""
    fields = {"recipients-0-user": str(people["stranger"].pk)}
    response = refused(admin_client, saved_export(staff), **fields)
    [line], _ = recipient_errors(response)
    assert line["user"] == [NOT_ADDRESSABLE]


def test_someone_who_left_the_owners_groups_is_skipped_at_run_time(staff, demo_data, people):
    colleague = people["colleague"]
    schedule = schedule_for(saved_export(staff))
    ScheduleRecipient.objects.create(schedule=schedule, user=colleague)
    people["team"].user_set.remove(colleague)
    done = run_and_deliver(schedule)
    skipped = done.deliveries.get(user=colleague)
    assert (skipped.status, skipped.audit, skipped.error) == (
        DeliveryStatus.SKIPPED,
        None,
        NOT_ADDRESSABLE,
    )
    assert "colleague" not in done.message and f"1 skipped: {NOT_ADDRESSABLE}" in done.message


def test_the_owner_reads_skipped_people_counted_never_named(client, admin_client, staff, people):
    """Who may not export is not the owner's to learn; a superuser sees each delivery."""
    carol = make_user("carol")  # may not export
    colleagues(staff, carol)
    schedule = schedule_for(saved_export(staff))
    ScheduleRecipient.objects.create(schedule=schedule, user=carol)
    done = run_and_deliver(schedule)
    assert done.message.endswith("1 skipped: May not export User points.")
    client.force_login(staff)
    page = reverse("admin:exports_schedulerun_change", args=[done.pk])
    seen_by_owner = client.get(page).content.decode()
    assert "1 skipped: May not export User points." in seen_by_owner
    assert "carol" not in seen_by_owner
    assert "carol" in admin_client.get(page).content.decode()
