"""How long a file stays: the site's default, what an export or a schedule asked for (up to
EXPORTS_MAX_FILE_LIFETIME), and "keep 24 h longer" on My downloads."""

from datetime import timedelta

from django.utils.translation import gettext as _

from exports.conf import app_settings
from exports.jobs.quotas import limit_bytes, used_bytes
from exports.models import DownloadFile

OPTION = "lifetime_hours"  # in an export's options; not a writer option
API_OPTION = "lifetime"  # the HTTP API's, in seconds
EXTENSION = timedelta(hours=24)


def lifetime_for(options: dict) -> timedelta:
    """What the export asked for (hours from a page or a schedule, seconds from the API), never
    more than the maximum."""
    if options.get(API_OPTION):
        asked = timedelta(seconds=int(options[API_OPTION]))
    elif options.get(OPTION):
        asked = timedelta(hours=float(options[OPTION]))
    else:
        return app_settings.FILE_LIFETIME
    return min(asked, app_settings.MAX_FILE_LIFETIME)


def max_hours() -> int:
    return int(app_settings.MAX_FILE_LIFETIME.total_seconds() // 3600)


def keep_longer(file: DownloadFile) -> str | None:
    """Add 24 hours, up to the maximum counted from the file's creation; None when done,
    otherwise why not."""
    if file.is_expired():
        return _("This file has expired; it cannot be kept longer.")
    limit = limit_bytes()
    if limit and used_bytes(file.owner_id) > limit:
        return _("Your files take more than your storage quota; delete some before keeping more.")
    latest = file.created_at + app_settings.MAX_FILE_LIFETIME
    if file.expires_at >= latest:
        return _("This file is already kept as long as files may be kept.")
    expires = min(file.expires_at + EXTENSION, latest)
    DownloadFile.objects.filter(pk=file.pk).update(expires_at=expires)
    file.expires_at = expires
    return None
