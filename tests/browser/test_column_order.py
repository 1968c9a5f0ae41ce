"""Reordering columns on the export options page with the keyboard only, then downloading
the file: its header is in the order the rows stand in."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from exports.models import ExportAudit
from project.demo.seed import top_up
from tests.browser.conftest import log_in, screenshot
from tests.conftest import make_user

DEFAULT = ["ID", "User ID", "Username", "Game ID", "Game", "Task ID", "Task", "Points", "Created"]


def row_headings(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("ol.column-order li label").all_inner_texts()]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_columns_reordered_with_the_keyboard_come_in_that_order(page: Page, live_server):
    top_up(30)
    make_user("staffer", staff=True, export=True)
    log_in(page, "/admin/login/?next=/admin/", "staffer", "pw-staffer")
    page.goto("/admin/demo/userpoint/")
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("export_rows")
    page.locator(".actions button[name=index]").click()
    expect(page.locator("ol.column-order li")).to_have_count(len(DEFAULT))
    assert row_headings(page) == DEFAULT
    page.evaluate("window.stillThisPage = true")  # a reload or a post would forget it

    # Username two places up with Enter, Points to the top with Space: the focus stays on
    # the button pressed, so the key can simply be pressed again.
    page.get_by_role("button", name="Move Username up").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.locator("ol.column-order li").first).to_contain_text("Username")
    page.get_by_role("button", name="Move Points up").focus()
    for _ in range(8):
        page.keyboard.press("Space")
    expect(page.locator("ol.column-order li").first).to_contain_text("Points")
    expect(page.locator(".column-order-status")).to_have_text("Points: 1 of 9")
    chosen = ["Points", "Username", "ID", "User ID", "Game ID", "Game", "Task ID", "Task"]
    assert row_headings(page) == [*chosen, "Created"]
    assert page.evaluate("window.stillThisPage") is True
    screenshot(page, "export-options-columns.png")

    page.locator("#id_delivery input[value=immediate]").check()
    with page.expect_download() as info:
        page.locator("#export-options input[type=submit][value=Export].default").click()
    body = Path(info.value.path()).read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(body)))
    assert header == [*chosen, "Created"]
    audit = ExportAudit.objects.get()
    assert audit.options["columns"] == [
        "points",
        "username",
        "id",
        "user_id",
        "game_id",
        "game",
        "task_id",
        "task",
        "created",
    ]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_column_dragged_onto_another_row_takes_its_place(page: Page, live_server):
    top_up(5)
    make_user("staffer", staff=True, export=True)
    log_in(page, "/admin/login/?next=/admin/", "staffer", "pw-staffer")
    page.goto("/admin/demo/userpoint/")
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("export_rows")
    page.locator(".actions button[name=index]").click()
    rows = page.locator("ol.column-order li")
    rows.filter(has_text="Created").drag_to(rows.first, target_position={"x": 5, "y": 2})
    expect(rows.first).to_contain_text("Created")
    assert row_headings(page) == ["Created", *DEFAULT[:-1]]
