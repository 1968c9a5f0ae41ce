"""A schedule's e-mails: a link for users, the file attached for outside addresses (never a
link: a link would either need a login they do not have or be public), and a note to the
owner when the schedule pauses itself."""

from django.core.mail import EmailMessage
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from exports.clock import utc
from exports.conf import app_settings
from exports.delivery.links import base_for, link_base
from exports.models import DeliveryLog, DownloadFile, ExportSchedule


class Undeliverable(Exception):
    """The file cannot go to this recipient; the message says why."""


def send_link(delivery: DeliveryLog, file: DownloadFile, name: str) -> None:
    link = link_base(delivery.audit) + file.get_absolute_url()
    body = (
        f"The scheduled export “{name}” has produced {file.filename} "
        f"({file.size_display}, {delivery.audit.row_count} rows).\n\n"
        f"It is on your My downloads page: {link}\n\n"
        f"The link works for you only, after you log in, until "
        f"{utc(file.expires_at):%Y-%m-%d %H:%M} UTC.\n"
    )
    EmailMessage(f"{name}: {file.filename}", body, to=[delivery.user.email]).send()


def send_attachment(delivery: DeliveryLog, file: DownloadFile, name: str) -> None:
    limit = app_settings.EMAIL_ATTACH_MAX_BYTES
    if file.size > limit:
        allowed = filesizeformat(limit) if limit else "nothing (attachments are off)"
        raise Undeliverable(
            f"{file.filename} is {file.size_display}; e-mails may carry {allowed} "
            "(EXPORTS_EMAIL_ATTACH_MAX_BYTES), and outside addresses never get a link."
        )
    body = (
        f"Attached: {file.filename} ({file.size_display}, {delivery.audit.row_count} rows), "
        f"from the scheduled export “{name}”.\n"
    )
    message = EmailMessage(f"{name}: {file.filename}", body, to=[delivery.email])
    with file.open() as handle:
        message.attach(file.filename, handle.read(), file.content_type)
    message.send()


def send_paused(schedule: ExportSchedule, reason: str) -> None:
    owner = schedule.owner
    if not owner.email or not owner.is_active:
        return
    saved = schedule.saved_export
    name = saved.name
    site = base_for(saved.options, saved.filters)
    body = (
        f"Your scheduled export “{name}” has been paused and will not run again until you "
        f"resume it.\n\nWhy: {reason}\n\nResume it on My downloads: "
        f"{site}{reverse('exports:my-downloads')}\n"
    )
    EmailMessage(f"Paused: {name}", body, to=[owner.email]).send()
