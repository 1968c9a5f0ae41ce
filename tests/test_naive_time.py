"""A host with USE_TZ = False in a zone that is not UTC: every page, action, run, e-mail and API
answer works with the naive wall-clock times Django then hands out, and shows them as they are.

The `settings` fixture fires Django's setting_changed handler, which drops every open
connection's cached time zone and moves its session to TIME_ZONE (SET TIME ZONE on
PostgreSQL). A connection still keeps what it chose when it connected (psycopg 3's loaders
for timestamptz), so the fixture also closes every connection: each reconnects as a USE_TZ =
False host's would, and again after the test, so that no later test inherits a naive one."""

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from exports.jobs.runner import filename_for, run
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus, ScheduleRun
from exports.scheduling.due import run_due
from exports.scheduling.timing import next_run_time
from project.demo.models import UserPoint
from tests.api.conftest import create_token
from tests.factories import finished_file
from tests.schedules import finish_exports, saved_export, schedule_for

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]
NEW_YORK = "America/New_York"
NOON = datetime(2026, 6, 9, 12, 0)  # a New York wall-clock time: 16:00 UTC, in summer time
NO_Z_NAME = re.compile(r"[a-z_]+_\d{8}T\d{6}\.\w+")


@pytest.fixture
def naive(settings, demo_data, staff):
    """USE_TZ = False in New York; staff may see the audit trail as well as export."""
    staff.user_permissions.add(Permission.objects.get(codename="view_exportaudit"))
    settings.TIME_ZONE = NEW_YORK  # first, so that the switch below lands in New York
    settings.USE_TZ = False
    settings.ROOT_URLCONF = "tests.naive_site"
    connections.close_all()
    yield staff
    settings.USE_TZ = True  # as the settings fixture leaves it, before anything reconnects
    connections.close_all()


@pytest.fixture
def noon_point(naive) -> UserPoint:
    template = UserPoint.objects.order_by("pk").first()
    return UserPoint.objects.create(
        user=template.user, game=template.game, task=template.task, points=7, created=NOON
    )


def audit_at_noon(user) -> ExportAudit:
    return ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by=user,
        requested_by_display=user.username,
        queued_at=NOON,
    )


def export_points(client, ids, **fields):
    """The Export… action on the demo's points, confirmed on its options page."""
    data = {
        "action": "export_rows",
        "_selected_action": ids,
        "post": "yes",
        "format": "csv",
        "delivery": Delivery.BACKGROUND,
        "columns": ["id", "points", "created"],
        **fields,
    }
    return client.post(reverse("admin:demo_userpoint_changelist"), data)


def in_new_york(text: str, wall: datetime) -> bool:
    """ISO text of the wall-clock time `wall` with New York's offset at that time."""
    moment = datetime.fromisoformat(text)
    offset = ZoneInfo(NEW_YORK).utcoffset(wall)
    to_the_millisecond = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
    return moment.replace(tzinfo=None) == to_the_millisecond and moment.utcoffset() == offset


def completed(audit: ExportAudit) -> DownloadFile:
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    return DownloadFile.objects.get(audit=audit)


def csv_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_audit_list_its_date_drilldown_and_a_row_show_wall_clock_times(client, naive):
    audit = audit_at_noon(naive)
    client.force_login(naive)
    changelist = reverse("admin:exports_exportaudit_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    assert "2026-06-09 12:00" in page.content.decode(), "shown as stored, not shifted"
    day = client.get(changelist, {"queued_at__year": 2026, "queued_at__month": 6})
    assert day.status_code == 200 and str(audit.pk) in day.content.decode()
    one = client.get(reverse("admin:exports_exportaudit_change", args=[audit.pk]))
    assert one.status_code == 200


def test_audit_rows_export_as_shown_now_and_in_the_background(client, naive):
    audit_at_noon(naive)
    client.force_login(naive)
    changelist = reverse("naive:exports_exportaudit_changelist")
    chosen = [str(a.pk) for a in ExportAudit.objects.all()]
    options = client.post(changelist, {"action": "export_rows", "_selected_action": chosen})
    assert options.status_code == 200 and 'name="values" value="display"' in options.text
    confirm = {"action": "export_rows", "_selected_action": chosen, "post": "yes"}
    confirm.update(format="csv", values="display")
    now = client.post(changelist, {**confirm, "delivery": Delivery.IMMEDIATE})
    assert now.status_code == 200, now.content[:300]
    assert NO_Z_NAME.search(now["Content-Disposition"])
    rows = csv_of(b"".join(now.streaming_content))
    assert rows[0][0] == "Queued" and rows[1][0] == "2026-06-09 12:00"

    later = client.post(changelist, {**confirm, "delivery": Delivery.BACKGROUND})
    assert later.status_code == 302
    queued = ExportAudit.objects.exclude(dataset="user_points").get(delivery=Delivery.BACKGROUND)
    with completed(queued).open() as stored:
        assert csv_of(stored.read())[1][0] == "2026-06-09 12:00"


def test_a_background_export_is_named_without_z_and_holds_new_york_times(client, naive, noon_point):
    client.force_login(naive)
    assert export_points(client, [noon_point.pk], delivery=Delivery.EMAIL).status_code == 302
    file = completed(ExportAudit.objects.get())
    assert NO_Z_NAME.fullmatch(file.filename), file.filename
    with file.open() as stored:
        assert csv_of(stored.read())[1] == [str(noon_point.pk), "7", "2026-06-09T12:00:00-04:00"]
    [sent] = mail.outbox
    expires = f"{file.expires_at:%Y-%m-%d %H:%M} ({NEW_YORK})"
    assert expires in sent.body, "the link's expiry in the file's zone, not shifted again"
    download = client.get(file.get_absolute_url())
    assert download.status_code == 200
    assert b"".join(download.streaming_content).endswith(b"2026-06-09T12:00:00-04:00\r\n")


def test_a_spreadsheet_in_utc_holds_the_utc_wall_clock_of_a_new_york_time(
    client, naive, noon_point
):
    """As shown in the admin: read through Django's iterator, so the writer gets naive times."""
    client.force_login(naive)
    response = export_points(
        client, [noon_point.pk], format="xlsx", time_zone="UTC", values="display"
    )
    assert response.status_code == 302
    with completed(ExportAudit.objects.get()).open() as stored:
        sheet = openpyxl.load_workbook(io.BytesIO(stored.read())).active
    headings = [cell.value for cell in sheet[1]]
    created = sheet.cell(row=2, column=headings.index("Created") + 1).value
    assert created == datetime(2026, 6, 9, 16, 0)


def test_my_downloads_and_keep_24_hours_longer(client, naive):
    file = finished_file(naive)
    client.force_login(naive)
    assert client.get(reverse("exports:my-downloads")).status_code == 200
    before = file.expires_at
    kept = client.post(reverse("exports:keep-longer", args=[file.pk]), follow=True)
    assert kept.redirect_chain[-1][1] == 302 and kept.status_code == 200
    file.refresh_from_db()
    assert file.expires_at == before + timedelta(hours=24)
    assert f"is kept until {file.expires_at:%Y-%m-%d %H:%M}" in kept.content.decode()


def test_a_schedule_runs_mails_pauses_resumes_and_shows_its_history(client, naive):
    schedule = schedule_for(saved_export(naive), kind="weekly", weekdays=["0"])
    [started] = run_due()
    finish_exports(started)
    schedule.refresh_from_db()
    assert timezone.is_naive(schedule.next_run_at) and schedule.next_run_at > timezone.now()
    assert (schedule.next_run_at.weekday(), f"{schedule.next_run_at:%H:%M}") == (0, "07:00")
    [sent] = mail.outbox
    expires = DownloadFile.objects.get().expires_at.replace(tzinfo=ZoneInfo(NEW_YORK))
    assert f"until {expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in sent.body

    client.force_login(naive)
    pause = reverse("exports:schedule-pause", args=[schedule.pk])
    assert client.post(pause).status_code == 302
    resumed = client.post(reverse("exports:schedule-resume", args=[schedule.pk]), follow=True)
    assert resumed.status_code == 200 and "next run" in resumed.content.decode()
    assert "Not run yet" not in client.get(reverse("exports:my-downloads")).content.decode()
    change = client.get(reverse("admin:exports_exportschedule_change", args=[schedule.pk]))
    assert change.status_code == 200
    assert f"{ScheduleRun.objects.get().started_at:%Y-%m-%d %H:%M}" in change.content.decode()


def test_the_next_run_of_a_daily_schedule_is_a_new_york_wall_clock_time(naive):
    schedule = schedule_for(saved_export(naive), kind="interval", starts_at=NOON)
    after = datetime(2026, 11, 1, 6, 59)  # the day New York's clocks go back
    assert next_run_time(schedule, after) == datetime(2026, 11, 1, 7, 0)
    assert next_run_time(schedule, datetime(2026, 11, 1, 7, 0)) == datetime(2026, 11, 2, 7, 0)


def test_the_api_answers_with_offsets_and_filters_by_new_york_days(client, naive, noon_point):
    token = create_token(naive.username)
    auth = {"authorization": f"Bearer {token}"}
    day = {"dataset": "user_points", "format": "csv", "filters": {"from": "2026-06-09"}}
    day["filters"]["to"] = "2026-06-09"
    started = client.post(
        reverse("exports_api:exports"), json.dumps(day), "application/json", headers=auth
    )
    assert started.status_code == 202, started.content
    audit = ExportAudit.objects.get()
    with completed(audit).open() as stored:
        ids = [row[0] for row in csv_of(stored.read())[1:]]
    assert str(noon_point.pk) in ids
    assert UserPoint.objects.filter(created__date=date(2026, 6, 9)).count() == len(ids)

    audit_at_noon(naive)
    history = client.get(reverse("exports_api:history"), {"limit": 1}, headers=auth)
    assert history.status_code == 200
    [newest] = history.json()["results"]
    assert in_new_york(newest["queued_at"], audit.queued_at)
    assert in_new_york(newest["file"]["expires_at"], audit.download.expires_at)
    more = client.get(history.json()["next_url"], headers=auth)
    assert more.status_code == 200
    assert more.json()["results"][0]["queued_at"] == "2026-06-09T12:00:00-04:00"
    shown = client.get(reverse("exports_api:export", args=[audit.pk]), headers=auth)
    assert shown.status_code == 200 and in_new_york(shown.json()["finished_at"], audit.finished_at)


def test_file_names_say_z_only_for_utc():
    assert filename_for("users", "csv", NOON) == "users_20260609T120000.csv"
    aware = timezone.make_aware(NOON, timezone.get_fixed_timezone(-240))
    assert filename_for("users", "csv", aware) == "users_20260609T160000Z.csv"
