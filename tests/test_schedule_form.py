"""The schedule form without JavaScript: every kind's fields under a heading naming the kind,
the other kinds' fields ignored when saved, the next three runs shown; and the JSON the
form's script asks for them."""

from datetime import datetime
from datetime import time as time_of_day

import pytest
from django.urls import reverse
from django.utils import timezone

from exports.models import ExportSchedule
from exports.scheduling.timing import Timing
from tests.conftest import make_user
from tests.schedules import saved_export
from tests.test_saved_exports import SCHEDULE_ADD, schedule_form

pytestmark = pytest.mark.django_db
NEXT_RUNS = "admin:exports_exportschedule_next_runs"
MONDAYS_AND_THURSDAYS = Timing(kind="weekly", weekdays=(0, 3), at_time=time_of_day(7, 0))


def shown(times: list[datetime]) -> list[str]:
    return [timezone.localtime(t).strftime("%a %Y-%m-%d %H:%M") for t in times]


def next_three(timing: Timing) -> list[str]:
    return shown(timing.upcoming(timezone.now(), 3))


def test_without_javascript_every_kind_shows_under_a_heading_naming_it(client, staff):
    client.force_login(staff)
    page = client.get(reverse(SCHEDULE_ADD)).content.decode()
    for heading in (
        "Every N hours or days (kind: interval)",
        "Weekly, on chosen days (kind: weekly)",
        "Time of day (kinds: every N days, weekly)",
        "Cron expression (kind: cron)",
    ):
        assert f"<h2>{heading}</h2>" in page or f">{heading}</" in page, heading
    for field in ('name="every"', 'name="unit"', 'name="weekdays"', 'name="cron"'):
        assert field in page
    assert "exports/schedule.js" in page  # the enhancement, not a requirement


def test_fields_of_another_kind_are_ignored_and_reset_when_saved(client, staff):
    client.force_login(staff)
    data = schedule_form(saved_export(staff), every="not a number", unit="weeks", cron="61 *")
    response = client.post(reverse(SCHEDULE_ADD), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = ExportSchedule.objects.get()
    assert (schedule.kind, schedule.weekdays) == ("weekly", [0, 3])
    assert (schedule.every, schedule.unit, schedule.cron) == (1, "days", "")


def test_the_chosen_kinds_fields_are_still_checked(client, staff):
    client.force_login(staff)
    data = schedule_form(saved_export(staff), kind="interval", every="not a number")
    page = client.post(reverse(SCHEDULE_ADD), data).content.decode()
    assert "Enter a whole number." in page
    assert not ExportSchedule.objects.exists()


def test_a_form_with_errors_shows_the_next_three_runs_of_what_was_posted(client, staff):
    client.force_login(staff)
    data = schedule_form(saved_export(staff), lifetime_hours="999999")
    page = client.post(reverse(SCHEDULE_ADD), data).content.decode()
    assert "At most" in page and not ExportSchedule.objects.exists()
    line = page.split('id="next-runs"', 1)[1].split("</span>", 1)[0]
    for when in next_three(MONDAYS_AND_THURSDAYS):
        assert when in line


def test_the_next_runs_answer_the_timing_in_the_query_as_json(client, staff):
    client.force_login(staff)
    query = {"kind": "cron", "cron": "30 6 * * 2", "starts_at_0": "2026-01-01"}
    query["starts_at_1"] = "00:00"
    answer = client.get(reverse(NEXT_RUNS), query)
    assert answer.status_code == 200
    runs = [datetime.fromisoformat(r) for r in answer.json()["runs"]]
    assert shown(runs) == next_three(Timing(kind="cron", cron="30 6 * * 2"))
    assert all(when in answer.json()["text"] for when in shown(runs))


def test_the_next_runs_refuse_a_bad_timing_with_the_reason(client, staff):
    client.force_login(staff)
    query = {"kind": "cron", "cron": "61 * * * *", "starts_at_0": "2026-01-01"}
    answer = client.get(reverse(NEXT_RUNS), {**query, "starts_at_1": "00:00"})
    assert answer.status_code == 400
    assert "61 is outside the minute field's 0-59." in answer.json()["error"]
    too_often = {**query, "cron": "*/5 * * * *", "starts_at_1": "00:00"}
    assert "at most every 60 minutes" in client.get(reverse(NEXT_RUNS), too_often).json()["error"]


def test_the_next_runs_are_a_get_for_those_who_may_export(client, staff):
    client.force_login(staff)
    assert client.post(reverse(NEXT_RUNS), {"kind": "cron"}).status_code == 405
    client.force_login(make_user("clerk", staff=True))
    assert client.get(reverse(NEXT_RUNS), {"kind": "cron"}).status_code == 403
    client.logout()
    assert client.get(reverse(NEXT_RUNS), {"kind": "cron"}).status_code == 302  # to log in
