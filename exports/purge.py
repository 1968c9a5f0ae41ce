"""The one purge that the command, the schedule and the admin action all call."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from exports.models import DownloadFile
from exports.storage import exports_storage

log = logging.getLogger(__name__)


def purge_expired(dry_run: bool = False, now: datetime | None = None) -> list[str]:
    """Delete expired files, row first and stored object on commit, so a row never points
    at a missing object; rows another purge has locked are skipped, not waited for."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            DownloadFile.objects.expired(now)
            .select_for_update(skip_locked=True)
            .values_list("pk", "stored_name")
        )
        if dry_run or not expired:
            return [name for _, name in expired]
        DownloadFile.objects.filter(pk__in=[pk for pk, _ in expired]).delete()
        for _, name in expired:
            transaction.on_commit(lambda name=name: delete_stored(name))
    log.info("purged %d expired download(s)", len(expired))
    return [name for _, name in expired]


def delete_stored(name: str) -> None:
    try:
        exports_storage().delete(name)
    except OSError:
        log.exception("could not delete stored export %s; the orphan scan will retry", name)


def purge_task() -> int:
    """django-q2 schedule entry point."""
    return len(purge_expired())
