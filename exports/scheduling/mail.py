"""A schedule's e-mails: a link for users, the file attached for outside addresses (never a
link: a link would either need a login they do not have or be public), and a note to the
owner when the schedule pauses itself."""

from django.core.mail import EmailMessage
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exports.clock import utc
from exports.conf import app_settings
from exports.delivery.links import base_for, link_base
from exports.i18n import speaking
from exports.models import DeliveryLog, DownloadFile, ExportSchedule


class Undeliverable(Exception):
    """The file cannot go to this recipient; the message says why."""


def send_link(delivery: DeliveryLog, file: DownloadFile, name: str) -> None:
    with speaking(delivery.audit.options):
        link = link_base(delivery.audit) + file.get_absolute_url()
        body = (
            _("The scheduled export “%(name)s” has produced %(filename)s (%(size)s, %(rows)s).")
            % facts(delivery, file, name)
            + "\n\n"
            + _("It is on your My downloads page: %(link)s") % {"link": link}
            + "\n\n"
            + _("The link works for you only, after you log in, until %(expires)s UTC.")
            % {"expires": f"{utc(file.expires_at):%Y-%m-%d %H:%M}"}
            + "\n"
        )
        message = EmailMessage(f"{name}: {file.filename}", body, to=[delivery.user.email])
    message.send()


def send_attachment(delivery: DeliveryLog, file: DownloadFile, name: str) -> None:
    with speaking(delivery.audit.options):
        message = attachment_message(delivery, file, name)
    with file.open() as handle:
        message.attach(file.filename, handle.read(), file.content_type)
    message.send()


def attachment_message(delivery: DeliveryLog, file: DownloadFile, name: str) -> EmailMessage:
    """Raises Undeliverable (in the export's language) when the file is too big to attach."""
    limit = app_settings.EMAIL_ATTACH_MAX_BYTES
    if file.size > limit:
        allowed = filesizeformat(limit) if limit else _("nothing (attachments are off)")
        raise Undeliverable(
            _(
                "%(filename)s is %(size)s; e-mails may carry %(allowed)s "
                "(EXPORTS_EMAIL_ATTACH_MAX_BYTES), and outside addresses never get a link."
            )
            % {"filename": file.filename, "size": file.size_display, "allowed": allowed}
        )
    body = (
        _("Attached: %(filename)s (%(size)s, %(rows)s), from the scheduled export “%(name)s”.")
        % facts(delivery, file, name)
        + "\n"
    )
    return EmailMessage(f"{name}: {file.filename}", body, to=[delivery.email])


def facts(delivery: DeliveryLog, file: DownloadFile, name: str) -> dict[str, str]:
    count = delivery.audit.row_count
    rows = ngettext("%(count)s row", "%(count)s rows", count) % {"count": count}
    return {"name": name, "filename": file.filename, "size": file.size_display, "rows": rows}


def send_paused(schedule: ExportSchedule, reason: str) -> None:
    """In the saved export's language: Django keeps no language per user."""
    owner = schedule.owner
    if not owner.email or not owner.is_active:
        return
    saved = schedule.saved_export
    name = saved.name
    site = base_for(saved.options, saved.filters)
    with speaking(saved.options):
        body = (
            _(
                "Your scheduled export “%(name)s” has been paused and will not run again until "
                "you resume it."
            )
            % {"name": name}
            + "\n\n"
            + _("Why: %(reason)s") % {"reason": reason}
            + "\n\n"
            + _("Resume it on My downloads: %(link)s")
            % {"link": f"{site}{reverse('exports:my-downloads')}"}
            + "\n"
        )
        subject = _("Paused: %(name)s") % {"name": name}
    EmailMessage(subject, body, to=[owner.email]).send()
