"""A staff member exports a filtered changelist from the admin in a real browser, watches it
on My downloads while the real qcluster worker writes it, downloads it and deletes it."""

import re
from datetime import UTC

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import Game, UserPoint
from project.demo.seed import top_up
from tests.browser.conftest import WORKER_TIMEOUT, log_in, screenshot
from tests.conftest import make_user

HEADINGS = ["ID", "User ID", "Username", "Game ID", "Game", "Task ID", "Task", "Points", "Created"]


def expected_rows(queryset) -> list[list]:
    """What the XLSX holds: numbers as numbers, text exactly as stored (formula-like text in
    text cells Excel keeps as text), datetimes as naive UTC wall-clock time."""
    return [
        [
            p.pk,
            p.user_id,
            p.user.username,
            p.game_id,
            p.game.name,
            p.task_id,
            p.task.name,
            p.points,
            p.created.astimezone(UTC).replace(tzinfo=None),
        ]
        # In the changelist's order: the demo's admin has none of its own, so newest first.
        for p in queryset.order_by("-pk").select_related("user", "game", "task")
    ]


def show_an_export_in_progress(owner) -> ExportAudit:
    """A stand-in for a second, larger export still being written, so the My downloads
    screenshot shows a progress bar. No worker job exists for it; the test cancels it."""
    return ExportAudit.objects.create(
        dataset="admin:demo.userpoint",
        format="xlsx",
        requested_by=owner,
        requested_by_display=owner.username,
        status=ExportStatus.RUNNING,
        rows_expected=20_000,
        row_count=8_000,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_staff_exports_a_filtered_changelist_to_xlsx_downloads_it_and_deletes_it(
    page: Page, live_server, qcluster, exports_root
):
    top_up(20_000)
    staff = make_user("staffer", staff=True, export=True)
    # The game whose name is a spreadsheet formula: its rows prove neutralisation end to end.
    game = Game.objects.filter(name__startswith="=cmd").order_by("pk").first()
    matching = UserPoint.objects.filter(game=game)
    count = matching.count()
    assert 100 < count < 20_000, "the filter must leave more than one changelist page"

    log_in(page, "/admin/login/?next=/admin/", "staffer", "pw-staffer")
    expect(page.locator("#site-name")).to_be_visible()

    # The changelist, filtered by a Game in the sidebar.
    page.goto("/admin/demo/userpoint/")
    page.locator("#changelist-filter").get_by_role("link", name=game.name, exact=True).click()
    expect(page).to_have_url(re.compile(rf"game__id__exact={game.pk}"))

    # Tick the page, then "Select all N user points" so the whole filtered set goes.
    page.locator("#action-toggle").check()
    select_across = page.locator(".actions .question a")
    expect(select_across).to_have_text(f"Select all {count} user points")
    select_across.click()
    expect(page.locator(".actions .all")).to_contain_text(f"All {count} selected")
    page.locator("select[name=action]").select_option("export_rows")
    page.locator(".actions button[name=index]").click()

    # The options page, in the admin's own look.
    expect(page.locator("#content h1")).to_have_text(f"Export all {count} matching rows")
    expect(page.locator("#export-count")).to_have_text(str(count))
    expect(page.locator("#id_delivery input[value=background]")).to_be_checked()
    page.locator("#id_format").select_option("xlsx")
    screenshot(page, "export-options.png")
    page.locator("#export-options input[type=submit][value=Export].default").click()

    # Back on the changelist: a success message linking to My downloads.
    message = page.locator(".messagelist li.success")
    expect(message).to_contain_text("Export queued.")
    message.get_by_role("link", name="My downloads").click()
    expect(page).to_have_url(re.compile(r"/downloads/$"))
    audit = ExportAudit.objects.get(requested_by=staff)
    assert audit.filters["changelist"] == f"game__id__exact={game.pk}"
    assert audit.filters["request"]["site"] == "admin"

    # Either still pending (label + progress) or already done; the page updates itself.
    pending_row = page.locator(f'#pending tr[data-export="{audit.pk}"]')
    ready_row = page.locator("#files tr[data-file]")
    expect(pending_row.or_(ready_row).first).to_be_visible(timeout=WORKER_TIMEOUT)
    # One snapshot of the row (it may finish and go at any moment): label and progress bar.
    seen = pending_row.evaluate_all(
        "rows => rows.map(r => [r.querySelector('.label').textContent.trim(),"
        " !!r.querySelector('progress')])"
    )
    assert all(label in ("Queued", "Running") and bar for label, bar in seen), seen
    expect(ready_row).to_have_count(1, timeout=WORKER_TIMEOUT)
    expect(pending_row).to_have_count(0)
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    assert audit.row_count == count
    file = DownloadFile.objects.get(audit=audit)
    row = page.locator(f'#files tr[data-file="{file.pk}"]')
    expect(row.locator(".status-completed")).to_contain_text(f"Ready · {count} rows")
    # Never a bare "Ready": what the file holds against what the user chose.
    expect(row.locator(".selection")).to_contain_text(f"{count:,}")

    # A second export in progress next to the ready file, for the screenshot.
    running = show_an_export_in_progress(staff)
    page.reload()
    running_row = page.locator(f'#pending tr[data-export="{running.pk}"]')
    expect(running_row.locator(".label")).to_have_text("Running")
    expect(running_row.locator("progress")).to_have_attribute("value", "8000")
    expect(running_row.locator(".rows")).to_have_text("8000 of 20000 rows")
    screenshot(page, "my-downloads.png")
    running_row.get_by_role("button", name="Cancel").click()
    expect(page.locator(f'#ended tr[data-export="{running.pk}"]')).to_contain_text("Cancelled")

    # Download through the link and compare every cell with the database.
    with page.expect_download() as info:
        row.get_by_role("link", name=file.filename).click()
    download = info.value
    assert download.suggested_filename == file.filename
    saved = exports_root.parent / "downloaded.xlsx"
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved, read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADINGS
    assert rows[1:] == expected_rows(matching)
    assert any(str(r[4]).startswith("=cmd") for r in rows[1:])

    # Delete: the row goes, and so do the stored file and its DownloadFile.
    stored = exports_root / file.stored_name
    assert stored.is_file()
    row.get_by_role("button", name="Delete").click()
    expect(page.locator(".messagelist li")).to_contain_text(f"Deleted {file.filename}.")
    expect(row).to_have_count(0)
    assert not DownloadFile.objects.filter(pk=file.pk).exists()
    assert not stored.exists()
