"""E-mail delivery through a real SMTP server on loopback (aiosmtpd), not the locmem backend."""

import email
import email.policy
import socket
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import Delivery, DownloadFile, ExportStatus
from project.env import mail_settings

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_smtp(settings, port: int) -> None:
    """Point the mail settings (MAILERS or EMAIL_*, as this Django wants) at 127.0.0.1:port."""
    for name, value in mail_settings(host="127.0.0.1", port=port).items():
        setattr(settings, name, value)


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    use_smtp(settings, controller.port)
    settings.EXPORTS_SITE_URL = "https://exports.example.com"
    try:
        yield inbox
    finally:
        controller.stop()


def test_the_requester_gets_a_link_not_the_data(smtp, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    run(str(audit.pk))
    file = DownloadFile.objects.get()
    [message] = smtp.messages
    assert message["To"] == staff.email
    assert file.filename in message["Subject"]
    body = message.get_body().get_content()
    assert f"https://exports.example.com{file.get_absolute_url()}" in body
    assert not list(message.iter_attachments())
    assert "player" not in body, "no exported data in the mail"


def test_the_mail_says_how_many_rows_the_file_holds(smtp, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.row_count == 300
    body = smtp.messages[0].get_body().get_content()
    assert "300 rows" in body


def test_small_files_can_be_attached_when_the_setting_allows(smtp, staff, demo_data, settings):
    settings.EXPORTS_EMAIL_ATTACH_MAX_BYTES = 10_000_000
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    run(str(audit.pk))
    file = DownloadFile.objects.get()
    [attachment] = list(smtp.messages[0].iter_attachments())
    assert attachment.get_filename() == file.filename
    with file.open() as handle:
        assert attachment.get_content().encode() == handle.read()


def test_a_mail_failure_keeps_the_file_and_says_so(staff, demo_data, settings):
    use_smtp(settings, free_port())  # nobody listens
    settings.EXPORTS_OUTAGE_SECONDS = 1  # waits out no outage here (60 s by default)
    audit = queue_export(staff, "user_points", "csv", delivery=Delivery.EMAIL).audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    assert audit.notes.startswith("E-mail not sent:")
    assert DownloadFile.objects.filter(audit=audit).exists()


def test_the_mail_names_the_zone_of_the_files_times(smtp, staff, demo_data):
    options = {"time_zone": "Europe/Paris"}
    audit = queue_export(staff, "user_points", "csv", options=options, delivery=Delivery.EMAIL)
    run(str(audit.audit.pk))
    body = smtp.messages[0].get_body().get_content()
    assert "Dates and times in the file are in the Europe/Paris time zone." in body
    expires = DownloadFile.objects.get().expires_at.astimezone(ZoneInfo("Europe/Paris"))
    assert f"until {expires:%Y-%m-%d %H:%M} (Europe/Paris)" in body
