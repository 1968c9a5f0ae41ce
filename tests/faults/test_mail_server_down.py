"""A mail server that is down when an export finishes (the chaos run lost ready e-mails to a
few seconds of outage): the worker waits for it, up to EXPORTS_OUTAGE_SECONDS, and the
requester gets exactly one e-mail; down for longer, the audit row says the e-mail was not
sent."""

import email
import email.policy
import threading
from pathlib import Path

import pytest

from exportdesk_tools.servers import MailSink, free_ports
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import Delivery, DownloadFile, ExportStatus
from tests.test_email import use_smtp

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_ready_email_waits_for_a_mail_server_that_comes_back(
    staff, demo_data, settings, tmp_path: Path
):
    settings.EXPORTS_OUTAGE_SECONDS = 30
    sink = MailSink(tmp_path / "mail")
    use_smtp(settings, sink.controller.port)  # nothing listens there yet
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    back = threading.Timer(1.5, sink.start)
    back.start()
    try:
        run(str(audit.pk))
    finally:
        back.join()
        sink.stop()
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED and audit.notes == ""
    [path] = (tmp_path / "mail").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body().get_content()
    assert DownloadFile.objects.get(audit=audit).get_absolute_url() in body


def test_a_mail_server_down_for_longer_is_noted_on_the_audit_row(staff, demo_data, settings):
    settings.EXPORTS_OUTAGE_SECONDS = 1
    use_smtp(settings, free_ports(1)[0])
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    assert audit.notes.startswith("E-mail not sent: ")
    assert DownloadFile.objects.filter(audit=audit).exists()
