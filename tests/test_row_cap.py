"""The row cap never truncates silently: the options page warns before, the status and My
downloads say so while and after, and so does the ready e-mail."""

import pytest
from django.urls import reverse

from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import Delivery, ExportStatus
from tests.test_email import smtp  # noqa: F401 - the real SMTP server fixture

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
CAPPED = "stopped at the row cap: 100 of 300 rows"


@pytest.fixture
def cap(settings) -> int:
    settings.EXPORTS_MAX_ROWS_BACKGROUND = 100
    return 100


def options_page(client, user) -> str:
    """The options page for "select all 300 rows" on the user points changelist."""
    client.force_login(user)
    return client.post(
        reverse("admin:demo_userpoint_changelist"),
        {"action": "export_rows", "select_across": "1", "_selected_action": [1]},
    ).content.decode()


def test_the_options_page_warns_when_the_rows_exceed_the_cap(client, staff, demo_data, cap):
    page = options_page(client, staff)
    assert "Export all 300 matching rows" in page
    assert "row cap of 100 rows" in page
    assert 'class="warning"' in page or "errornote" in page


def test_no_warning_under_the_cap(client, staff, demo_data, settings):
    page = options_page(client, staff)
    assert "row cap" not in page


def test_the_status_json_says_the_export_stopped_at_the_cap(client, staff, demo_data, cap):
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    client.force_login(staff)
    status = client.get(audit.get_status_url()).json()
    assert status["status"] == ExportStatus.COMPLETED
    assert (status["rows_written"], status["rows_matching"], status["capped"]) == (100, 300, True)
    assert status["cap_message"] == CAPPED


def test_my_downloads_says_the_file_stopped_at_the_cap(client, staff, demo_data, cap):
    run(str(queue_export(staff, "user_points", "csv").audit.pk))
    client.force_login(staff)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert CAPPED in page


def test_a_running_capped_export_says_so_on_the_page_and_in_the_json(client, staff, demo_data, cap):
    audit = queue_export(staff, "user_points", "csv").audit
    audit.status, audit.rows_expected, audit.rows_matching = ExportStatus.RUNNING, 100, 300
    audit.row_count = 40
    audit.save()
    client.force_login(staff)
    [pending] = client.get(reverse("exports:pending-status")).json()["pending"]
    assert pending["cap_message"] == "will stop at the row cap: 100 of 300 rows"
    assert (
        "will stop at the row cap: 100 of 300 rows"
        in client.get(reverse("exports:my-downloads")).content.decode()
    )


def test_the_ready_mail_says_the_file_stopped_at_the_cap(smtp, staff, demo_data, cap):  # noqa: F811
    run(str(queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit.pk))
    body = smtp.messages[0].get_body().get_content()
    assert CAPPED in body


def test_an_export_under_the_cap_says_nothing_about_it(client, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    client.force_login(staff)
    status = client.get(audit.get_status_url()).json()
    assert (status["capped"], status["cap_message"]) == (False, "")
    assert "row cap" not in client.get(reverse("exports:my-downloads")).content.decode()
