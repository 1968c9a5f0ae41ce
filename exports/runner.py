"""The worker's half of an export: claim it, stream it to a temp file, publish it or fail it."""

import logging
import tempfile
from datetime import datetime

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from exports import engine
from exports.datasets import get_dataset
from exports.models import DownloadFile, ExportAudit, ExportStatus
from exports.storage import exports_storage, storage_key

log = logging.getLogger(__name__)


def claim(audit_id: str) -> ExportAudit | None:
    """queued -> running for exactly one caller; a second delivery of the job gets None."""
    won = ExportAudit.objects.filter(pk=audit_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=timezone.now()
    )
    return ExportAudit.objects.get(pk=audit_id) if won else None


def filename_for(dataset: str, extension: str, when: datetime) -> str:
    return f"{dataset}_{when:%Y%m%dT%H%M%SZ}.{extension}"


def run(audit_id: str) -> None:
    audit = claim(audit_id)
    if audit is None:
        log.info("export %s is not queued any more; skipping", audit_id)
        return
    stored: str | None = None
    try:
        dataset = get_dataset(audit.dataset)
        with tempfile.TemporaryFile(dir=settings.EXPORTS_TMP_DIR) as tmp:
            result = engine.export(tmp, dataset, audit.format, audit.filters, audit.options)
            size = tmp.tell()
            tmp.seek(0)
            filename = filename_for(dataset.name, result.extension, timezone.now())
            stored = exports_storage().save(storage_key(filename), File(tmp, name=filename))
        with transaction.atomic():
            now = timezone.now()
            DownloadFile.objects.create(
                owner=audit.requested_by,
                audit=audit,
                stored_name=stored,
                filename=filename,
                content_type=result.content_type,
                size=size,
                created_at=now,
                expires_at=now + settings.EXPORTS_FILE_LIFETIME,
            )
            ExportAudit.objects.filter(pk=audit.pk).update(
                status=ExportStatus.COMPLETED, row_count=result.rows, bytes=size, finished_at=now
            )
        stored = None  # the DownloadFile row owns it now
    except BaseException as exc:
        fail(audit, exc)
        if not isinstance(exc, Exception):
            raise  # a timeout or shutdown: recorded, then let django-q2 see it
    finally:
        if stored is not None:
            exports_storage().delete(stored)


def fail(audit: ExportAudit, exc: BaseException) -> None:
    reason = str(exc) or type(exc).__name__
    log.warning("export %s failed: %s", audit.pk, reason)
    ExportAudit.objects.filter(pk=audit.pk).update(
        status=ExportStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
    )
