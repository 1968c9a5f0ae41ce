"""The one purge that the command, the schedule and the admin action all call."""

import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from exports.conf import app_settings
from exports.db import write_atomic
from exports.delivery.ratelimit import forget_old_windows
from exports.delivery.safesave import remove
from exports.delivery.storage import exports_storage
from exports.models import DownloadFile, FileGone

log = logging.getLogger(__name__)
ROOT = "exports"
# storage_key() puts every file at exports/<uuid4 hex>/<name>: the only shape the orphan scan
# looks at. Anything else, even under exports/, is somebody else's.
OWNED_FOLDER = re.compile(r"[0-9a-f]{32}")
# Not of that shape, so never touched: in-progress uploads may live here.
TEMPORARY_PREFIX = "exports/tmp/"


def purge_expired(
    dry_run: bool = False, now: datetime | None = None, orphans: bool = True
) -> list[str]:
    """Delete expired files, row first and stored object on commit, so a row never points
    at a missing object; rows another purge has locked are skipped, not waited for.
    Then (unless dry_run) the orphan scan. Returns the expired names."""
    now = now or timezone.now()
    with write_atomic():
        expired = list(
            DownloadFile.objects.expired(now)
            .select_for_update(skip_locked=True)
            .values_list("pk", "stored_name")
        )
        if not dry_run and expired:
            gone = DownloadFile.objects.filter(pk__in=[pk for pk, _ in expired])
            gone.record_gone(FileGone.PURGED)
            gone.delete()
            for _, name in expired:
                transaction.on_commit(lambda name=name: delete_stored(name))
    if expired and not dry_run:
        log.info("purged %d expired download(s)", len(expired))
    if not dry_run:
        forget_old_windows(now)
    if orphans and not dry_run:
        purge_orphans(now=now)
    return [name for _, name in expired]


def delete_stored(name: str) -> None:
    remove(exports_storage(), name)


def owned_files(storage: Storage) -> Iterator[str]:
    """Every exports/<32 hex>/<file> in the storage, through the storage API (filesystem and
    S3 alike); never a file at another depth or in a folder of another name."""
    try:
        folders, _ = storage.listdir(ROOT)
    except FileNotFoundError:
        return
    for folder in folders:
        if not OWNED_FOLDER.fullmatch(folder):
            continue
        try:
            _, files = storage.listdir(f"{ROOT}/{folder}")
        except FileNotFoundError:
            continue
        for name in files:
            yield f"{ROOT}/{folder}/{name}"


def purge_orphans(
    now: datetime | None = None, grace: timedelta | None = None, dry_run: bool = False
) -> list[str]:
    """Stored objects of our own shape (see owned_files) that no DownloadFile names, older than
    the grace period (an export saves its file a moment before its row commits)."""
    now = now or timezone.now()
    grace = grace if grace is not None else timedelta(seconds=app_settings.ORPHAN_GRACE_SECONDS)
    storage = exports_storage()
    candidates = list(owned_files(storage))
    if not candidates:
        return []
    known = set(
        DownloadFile.objects.filter(stored_name__in=candidates).values_list(
            "stored_name", flat=True
        )
    )
    removed = []
    for name in candidates:
        if name in known:
            continue
        try:
            if storage.get_modified_time(name) > now - grace:
                continue
        except (FileNotFoundError, OSError):
            continue  # gone meanwhile
        # Re-check just before deleting: the row may have committed since the listing.
        if DownloadFile.objects.filter(stored_name=name).exists():
            continue
        if not dry_run:
            remove(storage, name)
        removed.append(name)
    if removed and not dry_run:
        log.warning("orphan scan removed %d stored object(s) with no row", len(removed))
    return removed


def purge_task() -> int:
    """The periodic job (exports.queues.PERIODIC)."""
    return len(purge_expired())
