"""E-mail delivery: a link to the finished file, the data itself only when allowed."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage

from exports.clock import aware
from exports.conf import app_settings
from exports.delivery.links import link_base
from exports.formats.base import zone_named
from exports.models import DownloadFile, ExportAudit

log = logging.getLogger(__name__)


def send_ready_email(file: DownloadFile) -> None:
    """Counts come from the audit row as it is now: the runner's copy predates them."""
    owner = file.owner
    audit = ExportAudit.objects.get(pk=file.audit_id)
    if not owner.email:
        log.warning("export %s: %s has no e-mail address", file.audit_id, owner.get_username())
        return
    link = link_base(audit) + file.get_absolute_url()
    zone = zone_of(audit)
    expires = aware(file.expires_at).astimezone(zone_named(zone))
    body = (
        f"Your export {file.filename} ({file.size_display}, {audit.row_count:,} rows) is "
        f"ready.{cap_sentence(audit)}{selection_sentence(audit)}\n\nDownload it here: {link}\n\n"
        f"Dates and times in the file are in the {zone} time zone.\n\n"
        "The link works for you only, after you log in, "
        f"until {expires:%Y-%m-%d %H:%M} ({zone}).\n"
    )
    message = EmailMessage(f"Your export {file.filename} is ready", body, to=[owner.email])
    if 0 < file.size <= app_settings.EMAIL_ATTACH_MAX_BYTES:
        with file.open() as handle:
            message.attach(file.filename, handle.read(), file.content_type)
    message.send()


def zone_of(audit: ExportAudit) -> str:
    """The zone the file's times are in: recorded when the export was accepted; an older
    export without one was written in the site's zone."""
    return audit.options.get("time_zone") or settings.TIME_ZONE


def selection_sentence(audit: ExportAudit) -> str:
    """What the file holds against what the user chose in the changelist, when they did."""
    return f" It holds {audit.selection_note}" if audit.selection_note else ""


def cap_sentence(audit: ExportAudit) -> str:
    return f" It {audit.cap_message}; narrow the filters to get the rest." if audit.capped else ""
