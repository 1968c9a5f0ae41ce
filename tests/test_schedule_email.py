"""A schedule's e-mails through a real SMTP server on loopback (aiosmtpd): links for users,
attachments for outside addresses, and what a refused delivery does to the sent log."""

import csv
import io
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from exports.models import DeliveryStatus, DownloadFile, ScheduleRecipient, SentRange
from project.demo.models import UserPoint
from project.demo.seed import top_up
from project.env import mail_settings
from tests.conftest import make_user
from tests.schedules import ids_in, run_and_deliver, saved_export, schedule_for
from tests.test_email import Inbox, free_port

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]
PARTNER = "ops@partner.example"


class PickyInbox(Inbox):
    """Accepts everything except the addresses in `refuse`, as a real server would."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp(settings) -> Iterator[PickyInbox]:
    inbox = PickyInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    # MAILERS on Django 6.1, EMAIL_* on 5.2: the demo's own helper knows which.
    for name, value in mail_settings(host="127.0.0.1", port=controller.port).items():
        setattr(settings, name, value)
    settings.EXPORTS_SITE_URL = "https://exports.example.com"
    settings.EXPORTS_ALLOWED_EMAIL_DOMAINS = ["partner.example"]
    settings.EXPORTS_EMAIL_ATTACH_MAX_BYTES = 10_000_000
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def owner(db):
    return make_user("owner", staff=True, export=True)


def attached_ids(message) -> list[int]:
    [attachment] = list(message.iter_attachments())
    rows = list(csv.reader(io.StringIO(attachment.get_content())))
    return [int(row[0]) for row in rows[1:]]


def all_ids() -> list[int]:
    return list(UserPoint.objects.order_by("pk").values_list("pk", flat=True))


def test_a_refused_delivery_leaves_its_rows_unlogged_and_they_go_out_next_run(
    smtp, owner, demo_data
):
    schedule = schedule_for(saved_export(owner, name="Points"), incremental=True)
    ScheduleRecipient.objects.create(schedule=schedule, email=PARTNER)
    smtp.refuse.add(PARTNER)
    first = run_and_deliver(schedule)
    refused = first.deliveries.get(email=PARTNER)
    assert refused.status == DeliveryStatus.FAILED
    assert refused.error.startswith("E-mail not sent:") and "Mailbox unavailable" in refused.error
    assert not SentRange.objects.filter(log__recipient=f"email:{PARTNER}").exists()
    assert first.deliveries.get(user=owner).status == DeliveryStatus.SENT

    smtp.refuse.clear()
    top_up(330)
    second = run_and_deliver(schedule)
    assert second.deliveries.get(email=PARTNER).status == DeliveryStatus.SENT
    [message] = smtp.to(PARTNER)
    assert attached_ids(message) == all_ids(), "the 300 refused rows and the 30 new ones"
    owners = second.deliveries.get(user=owner)
    assert len(ids_in(DownloadFile.objects.get(audit=owners.audit))) == 30


def test_users_get_a_link_and_outside_addresses_the_file_never_a_link(smtp, owner, demo_data):
    team = Group.objects.create(name="analysts")
    team.user_set.add(make_user("ann", export=True), owner)
    schedule = schedule_for(saved_export(owner, name="Daily points"))
    ScheduleRecipient.objects.create(schedule=schedule, group=team)
    ScheduleRecipient.objects.create(schedule=schedule, email=PARTNER)
    done = run_and_deliver(schedule)
    assert {d.status for d in done.deliveries.all()} == {DeliveryStatus.SENT}
    ann_file = DownloadFile.objects.get(owner__username="ann")
    [to_ann] = smtp.to("ann@example.com")
    body = to_ann.get_body().get_content()
    assert f"https://exports.example.com{ann_file.get_absolute_url()}" in body
    assert not list(to_ann.iter_attachments())
    [to_partner] = smtp.to(PARTNER)
    assert to_partner["Subject"].startswith("Daily points: user_points_")
    assert "http" not in to_partner.get_body().get_content()
    assert attached_ids(to_partner) == all_ids()
    assert not DownloadFile.objects.filter(audit=done.deliveries.get(email=PARTNER).audit)


def test_a_file_too_big_to_attach_fails_with_the_reason(smtp, owner, demo_data, settings):
    settings.EXPORTS_EMAIL_ATTACH_MAX_BYTES = 100
    schedule = schedule_for(saved_export(owner))
    ScheduleRecipient.objects.create(schedule=schedule, email=PARTNER)
    done = run_and_deliver(schedule)
    failed = done.deliveries.get(email=PARTNER)
    assert failed.status == DeliveryStatus.FAILED
    assert "e-mails may carry 100\xa0bytes (EXPORTS_EMAIL_ATTACH_MAX_BYTES)" in failed.error
    assert "never get a link" in failed.error
    assert smtp.to(PARTNER) == []


def test_an_address_outside_the_allowed_domains_is_refused_when_saved(smtp, owner):
    schedule = schedule_for(saved_export(owner))
    recipient = ScheduleRecipient(schedule=schedule, email="someone@elsewhere.example")
    with pytest.raises(ValidationError) as refused:
        recipient.full_clean()
    assert refused.value.message_dict["email"] == [
        "someone@elsewhere.example is not in a domain this site may send files to; "
        "allowed: partner.example."
    ]
