"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server."""

import re
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# The machine is small and shared: generous timeouts, never sleeps.
ACTION_TIMEOUT = 30_000
WORKER_TIMEOUT = 60_000


@pytest.fixture
def browser(monkeypatch) -> Iterator[Browser]:
    """One Chromium per test. Playwright's sync API keeps an event loop running in this
    thread, so Django's ORM calls from the test body need DJANGO_ALLOW_ASYNC_UNSAFE; it is
    set only while this fixture lives (monkeypatch restores it afterwards)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    """A fresh context (no cookies, no cache) on the live server, downloads allowed."""
    context = browser.new_context(
        base_url=live_server.url,
        accept_downloads=True,
        viewport={"width": 1280, "height": 860},
    )
    context.set_default_timeout(ACTION_TIMEOUT)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page: Page, path: str, username: str, password: str) -> None:
    """Fill whichever login form `path` leads to (admin's or the site's) and submit it."""
    page.goto(path)
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").or_(
        page.locator("input[type=submit][value='Log in']")
    ).click()
    expect(page).not_to_have_url(re.compile(r"/login/"), timeout=ACTION_TIMEOUT)


def screenshot(page: Page, name: str) -> Path:
    """docs/screenshots/<name>; on Django 6.1 and later <stem>-dj61.png beside it, so the
    README can show both lanes' admin (each draws its breadcrumbs and forms its own way)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if django.VERSION >= (6, 1):
        name = f"{Path(name).stem}-dj61{Path(name).suffix}"
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
