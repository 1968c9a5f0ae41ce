"""An admin purges expired downloads with one button on the Download files page."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from exports.models import DownloadFile
from tests.browser.conftest import log_in, screenshot
from tests.conftest import make_user
from tests.factories import finished_file


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_an_admin_purges_expired_files_with_the_button(page: Page, live_server):
    User.objects.create_superuser("boss", "boss@example.com", "pw-boss")
    alice = make_user("alice")
    for _ in range(2):
        finished_file(alice, expires_in=timedelta(seconds=-1))
    live = finished_file(alice)
    log_in(page, "/admin/exports/downloadfile/", "boss", "pw-boss")
    button = page.get_by_role("button", name="Purge expired now (2 files)")
    expect(button).to_be_visible()
    screenshot(page, "purge-button.png")
    button.click()
    expect(page.locator(".messagelist")).to_contain_text("Purged 2 expired downloads.")
    expect(page.get_by_role("button", name="Purge expired now (0 files)")).to_be_visible()
    assert list(DownloadFile.objects.all()) == [live]
