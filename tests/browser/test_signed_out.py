"""My downloads stops polling once the session is gone, and says why."""

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import Page, expect

from exports.jobs.accept import queue_export
from tests.browser.conftest import log_in
from tests.conftest import make_user

POLL_MS = 1500


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_page_stops_polling_and_says_signed_out_when_the_session_ends(page: Page, live_server):
    staff = make_user("staffer", staff=True, export=True)
    queue_export(staff, "user_points", "csv")  # no worker runs: it stays pending
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/status" in r.url else None)

    log_in(page, "/downloads/", "staffer", "pw-staffer")
    expect(page.locator("#pending .label")).to_have_text("Queued")
    page.wait_for_event("request", lambda r: "/status" in r.url)  # it is polling
    expect(page.locator("#signed-out")).to_be_hidden()

    Session.objects.all().delete()  # the session expires on the server
    expect(page.locator("#signed-out")).to_be_visible(timeout=10_000)
    expect(page.locator("#signed-out")).to_contain_text("Signed out")
    seen = len(polls)
    # Proving an absence takes time: three poll intervals without a request.
    page.wait_for_timeout(3 * POLL_MS)
    assert len(polls) == seen, f"still polling after sign-out: {polls[seen:]}"
