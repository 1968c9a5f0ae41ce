"""The schedule form in a browser: choosing a kind shows only that kind's fields, and the
next three runs of what the form holds, before anything is saved."""

from datetime import time as time_of_day

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from exports.models import ExportSchedule
from exports.scheduling.timing import Timing
from tests.browser.conftest import log_in, screenshot
from tests.conftest import make_user
from tests.schedules import saved_export

KIND_SETS = {
    "interval": ".kind-interval:not(.time-of-day)",
    "weekly": ".kind-weekly:not(.time-of-day)",
    "cron": ".kind-cron",
    "time": ".time-of-day",
}


def next_three(timing: Timing) -> list[str]:
    return [
        timezone.localtime(t).strftime("%a %Y-%m-%d %H:%M")
        for t in timing.upcoming(timezone.now(), 3)
    ]


def expect_only(page: Page, *visible: str) -> None:
    for name, selector in KIND_SETS.items():
        fieldset = page.locator(f"#exportschedule_form fieldset{selector}")
        if name in visible:
            expect(fieldset).to_be_visible()
        else:
            expect(fieldset).to_be_hidden()


def expect_runs(page: Page, timing: Timing) -> None:
    line = page.locator("#next-runs")
    for when in next_three(timing):
        expect(line).to_contain_text(when)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_choosing_a_kind_shows_its_fields_and_the_next_three_runs(page: Page, live_server):
    staffer = make_user("staffer", staff=True, export=True)
    saved = saved_export(staffer, name="Weekly points")
    log_in(page, "/admin/login/?next=/admin/", "staffer", "pw-staffer")
    page.goto(f"/admin/exports/exportschedule/add/?saved_export={saved.pk}")
    page.locator("#id_starts_at_0").fill("2026-01-01")
    page.locator("#id_starts_at_1").fill("00:00:00")
    expect_only(page)  # no kind chosen yet

    page.locator("#id_kind").select_option("cron")
    expect_only(page, "cron")
    page.locator("#id_cron").fill("30 6 * * 2")
    expect_runs(page, Timing(kind="cron", cron="30 6 * * 2"))

    page.locator("#id_kind").select_option("weekly")
    expect_only(page, "weekly", "time")
    page.locator("#id_weekdays input[value='0']").check()
    page.locator("#id_weekdays input[value='3']").check()
    page.locator("#id_at_time").fill("07:15")
    expect_runs(page, Timing(kind="weekly", weekdays=(0, 3), at_time=time_of_day(7, 15)))
    screenshot(page, "schedule-form.png")

    page.locator("#id_kind").select_option("interval")
    expect_only(page, "interval", "time")
    page.locator("#id_unit").select_option("hours")
    expect_only(page, "interval")
    page.locator("#id_every").fill("5")
    start = timezone.make_aware(timezone.datetime(2026, 1, 1))
    expect_runs(page, Timing(kind="interval", every=5, unit="hours", starts_at=start))

    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist li.success")).to_be_visible()
    schedule = ExportSchedule.objects.get()
    assert (schedule.kind, schedule.every, schedule.unit) == ("interval", 5, "hours")
    assert (schedule.weekdays, schedule.cron) == ([], "")  # the other kinds' leftovers
