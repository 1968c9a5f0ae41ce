"""A German browser (Chromium with locale de-DE) exports a dataset: the admin, the message and
My downloads speak German, and so does the XLSX the real qcluster worker writes."""

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Browser, expect

from exports.models import DownloadFile
from tests.browser.conftest import ACTION_TIMEOUT, WORKER_TIMEOUT
from tests.conftest import make_user


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_german_browser_gets_a_german_file(
    browser: Browser, live_server, qcluster, exports_root, demo_data
):
    anna = make_user("anna", staff=True, export=True)
    anna.user_permissions.add(Permission.objects.get(codename="view_user"))  # the users dataset
    context = browser.new_context(base_url=live_server.url, accept_downloads=True, locale="de-DE")
    context.set_default_timeout(ACTION_TIMEOUT)
    page = context.new_page()
    try:
        page.goto("/admin/login/?next=/admin/exports/datasetexport/")
        page.locator("#id_username").fill("anna")
        page.locator("#id_password").fill("pw-anna")
        page.get_by_role("button", name="Anmelden").or_(
            page.locator("input[type=submit][value='Anmelden']")
        ).click()
        expect(page.locator("#content h1")).to_have_text("Datensatz exportieren")
        page.locator("#id_dataset").select_option("users")
        page.locator("#id_format").select_option("xlsx")
        page.locator("#id_data_dictionary").check()
        page.locator("#dataset-export input[type=submit][value=Exportieren]").click()
        message = page.locator(".messagelist li.success")
        expect(message).to_contain_text("Export in die Warteschlange gestellt.")
        message.get_by_role("link", name="Meine Downloads").click()
        ready = page.locator("#files tr[data-file]")
        expect(ready).to_have_count(1, timeout=WORKER_TIMEOUT)
        expect(ready.locator(".status-completed")).to_contain_text("Fertig")
        file = DownloadFile.objects.get()
        with page.expect_download() as info:
            ready.get_by_role("link", name=file.filename).click()
        saved = exports_root.parent / "heruntergeladen.xlsx"
        info.value.save_as(saved)
    finally:
        context.close()
    book = openpyxl.load_workbook(saved, read_only=True)
    first_row = next(book["users"].iter_rows(max_row=1, values_only=True))
    assert "Vorname" in first_row and "Nachname" in first_row, first_row
    dictionary = next(book["data_dictionary"].iter_rows(max_row=1, values_only=True))
    assert list(dictionary[:3]) == ["Tabelle", "Spalte", "Überschrift"]
