"""Exportdesk speaks the requester's language: pages, messages, the file and its e-mail.

An export queued from a German browser is written in German by the worker, which has no
request; one that recorded no language is written in settings.LANGUAGE_CODE (English here).
"""

import io
import uuid

import openpyxl
import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from exports.api.payloads import export_json
from exports.checks import check_queue_timing
from exports.datasets.base import Column, Dataset
from exports.jobs.accept import ExportRefused, queue_export, start_immediate
from exports.jobs.runner import fail, run
from exports.jobs.sweeper import sweep
from exports.models import DownloadFile, ExportAudit
from exports.scheduling.due import run_due
from tests.conftest import make_user
from tests.schedules import saved_export, schedule_for
from tests.test_sweeper import running

PAGE = "admin:exports_datasetexport_changelist"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def site_language():
    """LocaleMiddleware leaves a request's language active in the thread (the test client
    runs in this one): every test here starts, and leaves the next one, in the site's own."""
    translation.deactivate()
    yield
    translation.deactivate()


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


def test_a_system_check_speaks_the_active_language(settings):
    settings.EXPORTS_MAX_ATTEMPTS = 0
    with translation.override("de"):
        german = [error.msg for error in check_queue_timing()]
    assert "EXPORTS_MAX_ATTEMPTS muss mindestens 1 sein." in german
    assert "EXPORTS_MAX_ATTEMPTS must be at least 1." in [e.msg for e in check_queue_timing()]


def test_an_api_problem_is_in_the_language_the_request_asks_for(admin_client):
    url = reverse("exports_api:export", args=[uuid.uuid4()])
    german = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert german.status_code == 404
    body = german.json()
    assert body["title"] == "Nicht gefunden"
    assert body["detail"] == "Es gibt keinen Export mit dieser ID."
    assert body["code"] == "not_found", "programs read the code, which never changes"
    english = admin_client.get(url).json()
    assert english["title"] == "Not Found"
    assert english["detail"] == "There is no export with this id."


def test_a_refusal_on_the_page_is_french_for_a_french_browser(client, staff, demo_data, settings):
    settings.EXPORTS_MAX_ROWS_IMMEDIATE = 10
    client.force_login(staff)
    page = client.post(
        reverse(PAGE),
        {"dataset": "user_points", "format": "csv", "delivery": "immediate", "time_zone": "UTC"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="fr",
    ).content.decode()
    assert "300 lignes, c’est plus que les 10 qu’un téléchargement immédiat peut contenir" in page
    assert not ExportAudit.objects.exists()


def test_a_refusal_reads_english_in_a_log_and_french_for_a_french_reader(
    staff, demo_data, settings
):
    settings.EXPORTS_MAX_ROWS_IMMEDIATE = 10
    with translation.override("fr"), pytest.raises(ExportRefused) as refused:
        start_immediate(staff, "user_points", "csv", {}, {})
    with translation.override("fr"):
        assert str(refused.value).startswith("300 lignes, c’est plus que les 10")
    with translation.override(None):  # what a log line is written under
        assert str(refused.value).startswith("300 rows is more than the 10")


def test_a_schedule_says_why_it_paused_in_its_saved_exports_language(demo_data):
    owner = make_user("owner", staff=True, export=True)
    schedule = schedule_for(saved_export(owner, options={"language": "de"}))
    owner.is_active = False
    owner.save()
    [done] = run_due()
    reason = "Das Konto des Eigentümers (owner) ist deaktiviert."
    schedule.refresh_from_db()
    assert (done.message, schedule.paused, schedule.paused_reason) == (reason, True, reason)


def test_the_sweeper_gives_up_in_the_exports_language(staff, settings):
    settings.EXPORTS_STALE_SECONDS, settings.EXPORTS_MAX_ATTEMPTS = 60, 2
    audit = running(staff, beat_ago=61, attempts=2, options={"language": "fr"})
    assert sweep().failed == [str(audit.pk)]
    audit.refresh_from_db()
    assert audit.error.startswith("Le worker a cessé de répondre (tentative 2 sur 2) ; abandon.")


def test_why_a_column_is_left_out_is_read_in_the_readers_language():
    """A dataset is built once for the process; its reasons stay lazy."""
    dataset = Dataset(
        name="people",
        title="People",
        model_label="auth.User",
        columns=(Column("password", "password"), Column("shoe size", "shoe_size")),
        filters={},
    )
    with translation.override("fr"):
        reasons = [str(why) for _, why in dataset.omitted]
    assert reasons == ["un champ secret", "User n’a pas de champ 'shoe_size'"]
    assert [str(why) for _, why in dataset.omitted] == [
        "a secret field",
        "User has no field 'shoe_size'",
    ]
