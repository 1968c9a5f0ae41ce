"""E-mail delivery: a link to the finished file, the data itself only when allowed."""

import logging

from django.core.mail import EmailMessage

from exports.conf import app_settings
from exports.models import DownloadFile, ExportAudit

log = logging.getLogger(__name__)


def send_ready_email(file: DownloadFile) -> None:
    """Counts come from the audit row as it is now: the runner's copy predates them."""
    owner = file.owner
    audit = ExportAudit.objects.get(pk=file.audit_id)
    if not owner.email:
        log.warning("export %s: %s has no e-mail address", file.audit_id, owner.get_username())
        return
    link = app_settings.SITE_URL.rstrip("/") + file.get_absolute_url()
    body = (
        f"Your export {file.filename} ({file.size_display}, {audit.row_count:,} rows) is "
        f"ready.{cap_sentence(audit)}\n\nDownload it here: {link}\n\n"
        "The link works for you only, after you log in, "
        f"until {file.expires_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    message = EmailMessage(f"Your export {file.filename} is ready", body, to=[owner.email])
    if 0 < file.size <= app_settings.EMAIL_ATTACH_MAX_BYTES:
        with file.open() as handle:
            message.attach(file.filename, handle.read(), file.content_type)
    message.send()


def cap_sentence(audit: ExportAudit) -> str:
    return f" It {audit.cap_message}; narrow the filters to get the rest." if audit.capped else ""
