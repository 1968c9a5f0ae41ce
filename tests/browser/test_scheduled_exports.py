"""A staff member saves a filtered export, schedules it weekly for a group and an outside
address, runs it now from the admin, and finds it on My downloads' Scheduled section."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from exports.jobs.runner import run
from exports.models import DeliveryStatus, ExportAudit, ExportSchedule, SavedExport
from project.demo.models import Game, UserPoint
from project.demo.seed import top_up
from tests.browser.conftest import log_in, screenshot
from tests.conftest import make_user


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_staff_schedule_a_saved_export_for_a_group_and_a_partner(page: Page, live_server, settings):
    settings.EXPORTS_ALLOWED_EMAIL_DOMAINS = ["partner.example"]
    settings.EXPORTS_EMAIL_ATTACH_MAX_BYTES = 5_000_000
    top_up(2_000)
    staffer = make_user("staffer", staff=True, export=True)
    analysts = Group.objects.create(name="Analysts")
    analysts.user_set.add(make_user("ann", export=True), staffer)  # whom staffer may address
    game = Game.objects.order_by("pk").first()
    count = UserPoint.objects.filter(game=game).count()

    # Save the filtered changelist from the export options page.
    log_in(page, "/admin/login/?next=/admin/", "staffer", "pw-staffer")
    page.goto(f"/admin/demo/userpoint/?game__id__exact={game.pk}")
    page.locator("#action-toggle").check()
    page.locator(".actions .question a").click()
    page.locator("select[name=action]").select_option("export_rows")
    page.locator(".actions button[name=index]").click()
    expect(page.locator(".save-as h2")).to_have_text("Save this export as…")
    page.locator("#id_save_as_name").fill("Weekly points")
    page.locator("#save-as").click()
    expect(page.locator(".messagelist li.success")).to_contain_text("Saved as “Weekly points”.")
    saved = SavedExport.objects.get()
    assert saved.filters["changelist"] == f"game__id__exact={game.pk}"
    assert "conditions" not in saved.filters  # never a list of ids

    # Schedule it: Mondays and Thursdays at 07:00, only new rows, for a group and a partner.
    page.get_by_role("link", name="Add a schedule", exact=True).click()
    page.locator("#id_kind").select_option("weekly")
    page.locator("#id_weekdays input[value='0']").check()
    page.locator("#id_weekdays input[value='3']").check()
    page.locator("#id_at_time").fill("07:00")
    page.locator("#id_incremental").check()
    page.locator("#id_recipients-0-group").select_option(label="Analysts")
    page.locator("#recipients-group .add-row a").click()
    page.locator("#id_recipients-1-email").fill("ops@gmail.example")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".errorlist").first).to_contain_text(
        "ops@gmail.example is not in a domain this site may send files to; "
        "allowed: partner.example."
    )
    page.locator("#id_recipients-1-email").fill("ops@partner.example")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist li.success")).to_be_visible()
    schedule = ExportSchedule.objects.get()
    assert schedule.weekdays == [0, 3] and schedule.incremental
    assert schedule.recipients.count() == 2
    screenshot(page, "schedule-admin.png")

    # Run it now from the changelist, as the scheduler would; the worker's part in-process.
    page.goto("/admin/exports/exportschedule/")
    page.locator("input[name=_selected_action]").check()
    page.locator("select[name=action]").select_option("run_schedules_now")
    page.locator(".actions button[name=index]").click()
    expect(page.locator(".messagelist li")).to_contain_text("Running")
    for audit in ExportAudit.objects.filter(schedule=schedule):
        run(str(audit.pk))
    assert {d.status for d in schedule.runs.get().deliveries.all()} == {DeliveryStatus.SENT}

    # My downloads: the file, and the schedule with its next run and last result.
    page.goto("/downloads/")
    row = page.locator(f'#scheduled tr[data-schedule="{schedule.pk}"]')
    expect(row).to_contain_text("Weekly points")
    expect(row).to_contain_text("weekly on Mon, Thu at 07:00")
    expect(row.locator(".last-result")).to_contain_text("Completed")
    expect(row.locator(".last-result")).to_contain_text("3 sent")
    # One file: the partner's copy was only the attachment's vehicle and is gone.
    expect(page.locator("#files tr[data-file]")).to_have_count(1)
    expect(page.locator("#ended")).to_have_count(0)
    expect(page.locator("#files")).to_contain_text(f"Ready · {count} rows")
    screenshot(page, "scheduled-exports.png")

    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".next-run")).to_contain_text("Paused by staffer.")
    row.get_by_role("button", name="Resume").click()
    expect(page.locator(".messagelist li")).to_contain_text("Resumed “Weekly points”")
    schedule.refresh_from_db()
    assert not schedule.paused and schedule.next_run_at is not None
