"""E-mail delivery: a link to the finished file, the data itself only when allowed."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exports.clock import aware
from exports.conf import app_settings
from exports.delivery.links import link_base
from exports.formats.base import zone_named
from exports.i18n import speaking
from exports.models import DownloadFile, ExportAudit

log = logging.getLogger(__name__)


def send_ready_email(file: DownloadFile) -> None:
    """Counts come from the audit row as it is now: the runner's copy predates them. Written
    in the language of the request that queued the export."""
    owner = file.owner
    audit = ExportAudit.objects.get(pk=file.audit_id)
    if not owner.email:
        log.warning("export %s: %s has no e-mail address", file.audit_id, owner.get_username())
        return
    with speaking(audit.options):
        message = ready_message(file, audit, owner.email)
    if 0 < file.size <= app_settings.EMAIL_ATTACH_MAX_BYTES:
        with file.open() as handle:
            message.attach(file.filename, handle.read(), file.content_type)
    message.send()


def ready_message(file: DownloadFile, audit: ExportAudit, to: str) -> EmailMessage:
    link = link_base(audit) + file.get_absolute_url()
    zone = zone_of(audit)
    expires = aware(file.expires_at).astimezone(zone_named(zone))
    rows = ngettext("%(count)s row", "%(count)s rows", audit.row_count) % {
        "count": number_format(audit.row_count, force_grouping=True)
    }
    opening = _("Your export %(filename)s (%(size)s, %(rows)s) is ready.") % {
        "filename": file.filename,
        "size": file.size_display,
        "rows": rows,
    }
    body = (
        f"{opening}{cap_sentence(audit)}{selection_sentence(audit)}\n\n"
        + _("Download it here: %(link)s") % {"link": link}
        + "\n\n"
        + _("Dates and times in the file are in the %(zone)s time zone.") % {"zone": zone}
        + "\n\n"
        + _("The link works for you only, after you log in, until %(expires)s (%(zone)s).")
        % {"expires": f"{expires:%Y-%m-%d %H:%M}", "zone": zone}
        + "\n"
    )
    subject = _("Your export %(filename)s is ready") % {"filename": file.filename}
    return EmailMessage(subject, body, to=[to])


def zone_of(audit: ExportAudit) -> str:
    """The zone the file's times are in: recorded when the export was accepted; an older
    export without one was written in the site's zone."""
    return audit.options.get("time_zone") or settings.TIME_ZONE


def selection_sentence(audit: ExportAudit) -> str:
    """What the file holds against what the user chose in the changelist, when they did."""
    note = audit.selection_note
    return " " + _("It holds %(note)s") % {"note": note} if note else ""


def cap_sentence(audit: ExportAudit) -> str:
    if not audit.capped:
        return ""
    text = _("It %(cap)s; narrow the filters to get the rest.")
    return " " + text % {"cap": audit.cap_message}
