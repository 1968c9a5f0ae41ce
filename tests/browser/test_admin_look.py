"""Exportdesk's pages wear the admin's own look on the Django they run on (issue 21): the
breadcrumbs the admin styles, checkbox rows with the label beside the box, and a "My downloads"
link with the count of ready files in the user tools. Compared with what the browser computes
on one of the admin's own pages (an app index: the admin's home page draws no breadcrumbs), so
the test follows Django's CSS instead of copying it."""

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in, screenshot
from tests.conftest import make_user
from tests.factories import finished_file

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BREADCRUMBS_BACKGROUND = (
    "() => getComputedStyle(document.querySelector('nav .breadcrumbs')).backgroundColor"
)
# Every checkbox on the page whose label does not share a line with it (bounding boxes that
# do not overlap vertically), by id: the admin's checkbox-row puts them side by side.
CHECKBOXES_OFF_THEIR_LINE = """() => [...document.querySelectorAll('#content input[type=checkbox]')]
  .filter(box => box.offsetParent !== null && box.id)
  .filter(box => {
    const label = document.querySelector(`label[for="${box.id}"]`) || box.closest('label');
    if (!label) return true;
    const a = box.getBoundingClientRect(), b = label.getBoundingClientRect();
    return !(a.top < b.bottom && b.top < a.bottom);
  })
  .map(box => box.id)"""


def ready_files(owner, count: int) -> None:
    """`count` files ready for `owner`, beside one that expired (not counted)."""
    for _ in range(count):
        finished_file(owner)
    finished_file(owner, expires_in=-timedelta(minutes=5))


def admin_breadcrumbs_background(page: Page) -> str:
    page.goto("/admin/demo/")
    background = page.evaluate(BREADCRUMBS_BACKGROUND)
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), "the admin colours them"
    return background


def assert_in_the_admins_look(page: Page, background: str, ready: int) -> None:
    assert page.evaluate(BREADCRUMBS_BACKGROUND) == background
    assert page.evaluate(CHECKBOXES_OFF_THEIR_LINE) == []
    link = page.locator("#user-tools a.exports-user-link")
    expect(link).to_have_text(f"My downloads ({ready})")
    expect(link).to_have_attribute("href", "/downloads/")


def test_every_exportdesk_page_has_the_admins_breadcrumbs_checkbox_rows_and_user_link(
    page: Page, live_server, demo_data
):
    staff = make_user("staffer", staff=True, export=True)
    ready_files(staff, 2)
    log_in(page, "/admin/login/?next=/admin/", "staffer", "pw-staffer")
    expect(page.locator("#user-tools a.exports-user-link")).to_have_text("My downloads (2)")
    background = admin_breadcrumbs_background(page)

    # The options page of the Export… action.
    page.goto("/admin/demo/userpoint/")
    page.locator("#result_list input.action-select").first.check()
    page.locator("select[name=action]").select_option("export_rows")
    page.locator(".actions button[name=index]").click()
    expect(page.locator("#export-options")).to_be_visible()
    assert page.locator("#export-options input[type=checkbox]").count() > 3
    assert_in_the_admins_look(page, background, 2)

    page.goto("/admin/exports/datasetexport/")
    expect(page.locator("#dataset-export")).to_be_visible()
    assert page.locator("#dataset-export input[type=checkbox]").count() > 0
    assert_in_the_admins_look(page, background, 2)
    screenshot(page, "datasets.png")

    page.goto("/downloads/")
    expect(page.locator("#files tr[data-file]")).to_have_count(3)  # the expired one until purged
    assert_in_the_admins_look(page, background, 2)

    page.goto("/downloads/tokens/")
    expect(page.locator("#content h1")).to_have_text("API tokens")
    assert_in_the_admins_look(page, background, 2)


def test_a_plain_owner_sees_their_pages_in_the_same_frame_without_the_admin(
    page: Page, live_server
):
    alice = make_user("alice")
    ready_files(alice, 1)
    log_in(page, "/downloads/", "alice", "pw-alice")
    for path in ("/downloads/", "/downloads/tokens/"):
        page.goto(path)
        expect(page.locator("#user-tools a.exports-user-link")).to_have_text("My downloads (1)")
        expect(page.locator("nav .breadcrumbs")).to_be_visible()
        expect(page.locator("a[href='/admin/']")).to_have_count(0)
        expect(page.locator("#nav-sidebar")).to_have_count(0)
