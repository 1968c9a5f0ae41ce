"""A user without staff rights sees and downloads only their own files, and never the admin."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.conftest import make_user
from tests.factories import finished_file


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_plain_user_sees_and_downloads_only_their_own_files_and_not_the_admin(
    page: Page, live_server
):
    alice, bob = make_user("alice"), make_user("bob")
    mine = finished_file(alice, body=b"id,points\n1,10\n")
    theirs = finished_file(bob, body=b"id,points\n2,20\n")

    # /downloads/ sends an anonymous visitor to the site's login form, then back.
    log_in(page, "/downloads/", "alice", "pw-alice")
    expect(page).to_have_url(re.compile(r"/downloads/$"))
    expect(page.get_by_role("heading", name="My downloads")).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)

    rows = page.locator("#files tr[data-file]")
    expect(rows).to_have_count(1)
    mine_row = page.locator(f'#files tr[data-file="{mine.pk}"]')
    expect(mine_row).to_contain_text(mine.filename)
    expect(page.locator(f'tr[data-file="{theirs.pk}"]')).to_have_count(0)
    expect(page.locator(f'a[href="{theirs.get_absolute_url()}"]')).to_have_count(0)

    with page.expect_download() as info:
        mine_row.get_by_role("link", name=mine.filename).click()
    assert info.value.suggested_filename == mine.filename
    with open(info.value.path(), "rb") as body:
        assert body.read() == b"id,points\n1,10\n"

    # Somebody else's file is a plain 404, as if it did not exist.
    response = page.goto(theirs.get_absolute_url())
    assert response is not None and response.status == 404

    # The admin is closed: its login page instead of any admin content.
    for path in ("/admin/", "/admin/demo/userpoint/", "/admin/exports/datasetexport/"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/admin/login/\?next="))
        expect(page.locator("#login-form")).to_be_visible()
        expect(page.locator("#content")).to_contain_text(
            "You are authenticated as alice, but are not authorized to access this page."
        )
        expect(page.locator("#changelist, #content-main .app-demo")).to_have_count(0)
