"""After a load run: every request checked against the database and the storage.

The figures a reliability claim needs, each one something that must be zero (or near it):
lost (never reached a final state), duplicates, orphans (stored objects no row owns, older
than the grace period), dangling (rows whose object is missing), leaked quota (bytes still
reserved by finished exports), unreadable (a file whose rows read back differ from its audit
row). Every stored file is read back.
"""

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.core.files.storage import Storage
from django.db.models import Count, Sum
from django.utils import timezone

from exportdesk_tools.loadtest import percentile
from exportdesk_tools.readback import READERS, Unreadable, count_rows
from exports.conf import app_settings
from exports.delivery.purge import ROOT, TEMPORARY_PREFIX
from exports.delivery.storage import exports_storage
from exports.models import PENDING, DownloadFile, ExportAudit, ExportStatus

# Numbers, ids and hex in an error message vary per export; the reason is the rest.
VARIABLE = re.compile(r"\b[0-9a-f]{8,}\b|\d+(\.\d+)?")


@dataclass
class Figures:
    requested: int = 0
    completed: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    failed_without_reason: int = 0
    cancelled: int = 0
    lost: int = 0
    duplicates: int = 0
    orphans: int = 0
    orphans_in_grace: int = 0
    dangling: int = 0
    leaked_quota_bytes: int = 0
    unreadable: int = 0
    unreadable_files: list[str] = field(default_factory=list)
    files_read: int = 0
    files_not_readable_here: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def reason_key(error: str) -> str:
    """What failures have in common: the first line, with the numbers taken out."""
    first = (error or "").strip().splitlines()[0] if (error or "").strip() else ""
    return VARIABLE.sub("#", first)[:160]


def actionable(error: str) -> bool:
    """A sentence a person can act on: not empty, not a bare exception name or a traceback."""
    text = (error or "").strip()
    return len(text) >= 20 and " " in text and "Traceback" not in text


def count_statuses(figures: Figures) -> None:
    audits = ExportAudit.objects.all()
    by_status = dict(audits.values_list("status").annotate(n=Count("pk")))
    figures.requested = sum(by_status.values())
    figures.completed = by_status.get(ExportStatus.COMPLETED, 0)
    figures.failed = by_status.get(ExportStatus.FAILED, 0)
    figures.cancelled = by_status.get(ExportStatus.CANCELLED, 0)
    figures.lost = sum(by_status.get(s, 0) for s in PENDING)
    errors = audits.filter(status=ExportStatus.FAILED).values_list("error", flat=True)
    figures.failed_by_reason = dict(Counter(reason_key(e) for e in errors).most_common())
    figures.failed_without_reason = sum(1 for e in errors if not actionable(e))
    figures.duplicates = audits.annotate(files=Count("download")).filter(files__gt=1).count()
    held = audits.exclude(status=ExportStatus.RUNNING).aggregate(n=Sum("reserved_bytes"))["n"]
    figures.leaked_quota_bytes = held or 0
    waits = sorted(
        (a.finished_at - a.queued_at).total_seconds()
        for a in audits.filter(status=ExportStatus.COMPLETED).only("queued_at", "finished_at")
    )
    figures.p50_seconds, figures.p95_seconds = percentile(waits, 50), percentile(waits, 95)


def walk(storage: Storage, folder: str) -> Iterator[str]:
    """Every file under `folder`, whatever its shape (the purge looks at its own shape only;
    the ledger counts anything left behind), through the storage API."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from walk(storage, f"{folder}/{sub}")


def count_storage(figures: Figures, now: datetime, grace: timedelta) -> None:
    """Objects without rows, and rows without objects."""
    storage = exports_storage()
    stored = {n for n in walk(storage, ROOT) if not n.startswith(TEMPORARY_PREFIX)}
    owned = set(DownloadFile.objects.values_list("stored_name", flat=True))
    for name in stored - owned:
        try:
            young = storage.get_modified_time(name) > now - grace
        except FileNotFoundError:
            continue  # removed since the listing
        if young:
            figures.orphans_in_grace += 1
        else:
            figures.orphans += 1
    figures.dangling = len(owned - stored)


def read_back(figures: Figures, scratch: Path) -> None:
    """Fetch every file that has a row and count its rows the way a reader of it would."""
    storage = exports_storage()
    files = DownloadFile.objects.select_related("audit").order_by("created_at")
    for file in files.iterator(chunk_size=200):
        audit = file.audit
        if audit.format not in READERS:
            figures.files_not_readable_here += 1
            continue
        local = scratch / "file"
        try:
            with storage.open(file.stored_name, "rb") as source, open(local, "wb") as target:
                shutil.copyfileobj(source, target)
        except FileNotFoundError:
            continue  # counted as dangling
        figures.files_read += 1
        problem = problem_with(audit, file, local)
        if problem:
            figures.unreadable += 1
            figures.unreadable_files.append(f"{audit.pk} {audit.format}: {problem}")


def problem_with(audit: ExportAudit, file: DownloadFile, local: Path) -> str:
    """Empty when the file parses, holds the audit's row count and the row's size."""
    try:
        rows = count_rows(audit.format, local)
    except Unreadable as exc:
        return str(exc)
    if rows != audit.row_count:
        return f"{rows} rows, the audit row says {audit.row_count}"
    size = local.stat().st_size
    if size != file.size:
        return f"{size} bytes, the file row says {file.size}"
    return ""


def check(now: datetime | None = None, grace: timedelta | None = None) -> Figures:
    """The figures for everything in this database and this storage, now."""
    now = now or timezone.now()
    if grace is None:
        grace = timedelta(seconds=app_settings.ORPHAN_GRACE_SECONDS)
    figures = Figures()
    count_statuses(figures)
    count_storage(figures, now, grace)
    with tempfile.TemporaryDirectory(dir=app_settings.TMP_DIR, prefix="readback-") as scratch:
        read_back(figures, Path(scratch))
    return figures
