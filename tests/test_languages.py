"""Exportdesk speaks the requester's language: pages, messages, the file and its e-mail.

An export queued from a German browser is written in German by the worker, which has no
request; one that recorded no language is written in settings.LANGUAGE_CODE (English here).
"""

import io

import openpyxl
import pytest
from django.test import RequestFactory
from django.urls import reverse

from exports.api.payloads import export_json
from exports.jobs.accept import queue_export
from exports.jobs.runner import fail, run
from exports.models import DownloadFile, ExportAudit

PAGE = "admin:exports_datasetexport_changelist"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def queue_users(client, language: str):
    response = client.post(
        reverse(PAGE),
        {
            "dataset": "users",
            "format": "xlsx",
            "delivery": "email",
            "data_dictionary": "on",
            "time_zone": "UTC",
        },
        follow=True,
        HTTP_ACCEPT_LANGUAGE=language,
    )
    return response.content.decode()


def workbook() -> openpyxl.Workbook:
    with DownloadFile.objects.get().open() as handle:
        return openpyxl.load_workbook(io.BytesIO(handle.read()), read_only=True)


def headings(sheet) -> list[str]:
    return [cell.value for cell in next(sheet.iter_rows(max_row=1))]


def test_an_export_asked_for_in_german_is_written_in_german(admin_client, demo_data, mailoutbox):
    page = queue_users(admin_client, "de-DE,de;q=0.9")
    assert "Export in die Warteschlange gestellt" in page, "the message is German"
    audit = ExportAudit.objects.get()
    run(str(audit.pk))
    book = workbook()
    assert book.sheetnames == ["users", "data_dictionary"]
    users = headings(book["users"])
    assert "Vorname" in users and "Nachname" in users, users  # Django's own verbose_names
    assert headings(book["data_dictionary"])[:3] == ["Tabelle", "Spalte", "Überschrift"]
    [message] = mailoutbox
    assert message.subject.startswith("Ihr Export ") and "ist fertig" in message.subject
    assert "Hier herunterladen:" in message.body


def test_without_a_language_the_export_is_english(admin_client, demo_data, mailoutbox):
    page = queue_users(admin_client, "")
    assert "Export queued" in page
    run(str(ExportAudit.objects.get().pk))
    users = headings(workbook()["users"])
    assert "First name" in users and "Vorname" not in users
    assert headings(workbook()["data_dictionary"])[:3] == ["Table", "Column", "Heading"]
    assert mailoutbox[0].subject.endswith("is ready")


def test_the_language_is_no_option_the_api_shows(admin_user, demo_data):
    audit = queue_export(admin_user, "users", "csv", options={"language": "de"}).audit
    shown = export_json(audit, RequestFactory().get("/"))
    assert "language" not in shown["options"]


def test_a_french_export_is_written_in_french(admin_client, demo_data, mailoutbox):
    queue_users(admin_client, "fr")
    audit = ExportAudit.objects.get()
    assert audit.options["language"] == "fr"
    run(str(audit.pk))
    assert "Prénom" in headings(workbook()["users"])
    assert "est prêt" in mailoutbox[0].subject


def test_a_failed_export_says_why_in_its_language_and_logs_in_english(
    admin_user, demo_data, caplog
):
    audit = queue_export(admin_user, "users", "csv", options={"language": "de"}).audit
    ExportAudit.objects.filter(pk=audit.pk).update(status="running", attempts=1)
    fail(audit, 1, OSError(28, "No space left on device"))
    audit.refresh_from_db()
    assert audit.status == "failed"
    assert audit.error.startswith("Kein Speicherplatz mehr, um den Export zu schreiben:")
    assert "No space left to write the export" in caplog.text
