"""Per-user storage quota, held while an export writes so that concurrent exports cannot
overshoot it together (CamCOPS' USER_DOWNLOAD_MAX_SPACE_MB, enforced rather than advisory).

A user's usage is the size of their stored files plus what their running exports have
reserved. Reservations change only under a lock on the user's row, on the "progress"
connection: the export's own transaction stays open for minutes and must not hold that lock.
"""

import os

from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy

from exports.conf import app_settings
from exports.db import write_atomic
from exports.i18n import later
from exports.jobs.progressdb import progress_alias
from exports.models import DownloadFile, ExportAudit, ExportStatus

MIB = 1024 * 1024
# Sizes in the words of whoever reads the message (the log: English).
size = lazy(filesizeformat, str)


class QuotaExceeded(Exception):
    """The export would take its owner past their storage quota."""


def limit_bytes() -> int:
    """0 means no quota."""
    return int(app_settings.USER_QUOTA_MB * MIB)


def used_bytes(user_id, *, using: str = "default", exclude=None) -> int:
    files = DownloadFile.objects.using(using).filter(owner_id=user_id).aggregate(n=Sum("size"))
    held = (
        ExportAudit.objects.using(using)
        .filter(requested_by_id=user_id, status=ExportStatus.RUNNING)
        .exclude(pk=exclude)
        .aggregate(n=Sum("reserved_bytes"))
    )
    return (files["n"] or 0) + (held["n"] or 0)


def bytes_under(directory: str) -> int:
    """What an export holds in its scratch directory (a writer's files besides the output)."""
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(directory)
        for name in names
    )


def exceeded_message(needed: int, left: int, limit: int) -> str:
    text = gettext_lazy(
        "Storage quota exceeded: this export needs at least %(needed)s but only %(free)s of "
        "your %(quota)s quota is free. Delete files on My downloads, or export fewer rows."
    )
    return later(text, needed=size(needed), free=size(max(left, 0)), quota=size(limit))


def refuse_if_full(user) -> str | None:
    """At queue time: a message when the user has nothing left, else None."""
    limit = limit_bytes()
    if not limit or user is None:
        return None
    used = used_bytes(user.pk)
    if used < limit:
        return None
    text = gettext_lazy(
        "Storage quota exceeded: your files take %(used)s of your %(quota)s quota. Delete "
        "files on My downloads first."
    )
    return later(text, used=size(used), quota=size(limit))


class Reservation:
    """What one export attempt holds; grows in steps of EXPORTS_QUOTA_STEP_MB as it writes."""

    def __init__(self, audit_id, user_id, attempt: int) -> None:
        self.audit_id, self.user_id, self.attempt = audit_id, user_id, attempt
        self.held = 0

    def need(self, written: int) -> None:
        """Make sure `written` bytes are covered; raise QuotaExceeded when they cannot be."""
        limit = limit_bytes()
        if not limit or self.user_id is None or (written <= self.held and self.held):
            return
        step = int(app_settings.QUOTA_STEP_MB * MIB)
        alias = progress_alias()
        with write_atomic(using=alias):  # SQLite: the write lock first
            users = get_user_model().objects.using(alias)
            users.select_for_update().filter(pk=self.user_id).exists()
            left = limit - used_bytes(self.user_id, using=alias, exclude=self.audit_id)
            if written > left or left <= 0:
                raise QuotaExceeded(exceeded_message(written, left, limit))
            wanted = min(max(written, 1) + step, left)
            ExportAudit.objects.using(alias).filter(
                pk=self.audit_id, status=ExportStatus.RUNNING, attempts=self.attempt
            ).update(reserved_bytes=wanted)
            self.held = wanted
