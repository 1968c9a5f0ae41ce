"""The worker's half of an export: claim it, stream it to a temp file, publish it or fail it."""

import logging
import tempfile
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from exports import engine
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus
from exports.sources import dataset_for
from exports.storage import exports_storage, storage_key

log = logging.getLogger(__name__)


class ExportCancelled(Exception):
    """The owner cancelled while the worker was writing."""


def claim(audit_id: str) -> ExportAudit | None:
    """queued -> running for exactly one caller; a second delivery of the job gets None."""
    won = ExportAudit.objects.filter(pk=audit_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    return ExportAudit.objects.get(pk=audit_id) if won else None


def progress_reporter(audit_id) -> Callable[[int], None]:
    """Saves rows written with one UPDATE on a second connection (the export's own
    transaction is still open), and learns of a cancel from the same statement."""

    def report(rows: int) -> None:
        alive = (
            ExportAudit.objects.using("progress")
            .filter(pk=audit_id, status=ExportStatus.RUNNING)
            .update(row_count=rows, heartbeat_at=timezone.now())
        )
        if not alive:
            raise ExportCancelled

    return report


def filename_for(dataset: str, extension: str, when: datetime) -> str:
    return f"{dataset}_{when:%Y%m%dT%H%M%SZ}.{extension}"


def split_options(options: dict) -> tuple[dict, list[str] | None]:
    """Column choice belongs to the dataset; the rest goes to the writer."""
    writer_options = {k: v for k, v in options.items() if k != "columns"}
    return writer_options, options.get("columns")


def run(audit_id: str) -> None:
    audit = claim(audit_id)
    if audit is None:
        log.info("export %s is not queued any more; skipping", audit_id)
        return
    stored: str | None = None
    try:
        writer_options, columns = split_options(audit.options)
        dataset = dataset_for(audit.dataset, audit.requested_by, audit.filters, columns)
        expected = dataset.filtered(audit.filters.get("conditions"), audit.filters.get("limit"))
        cap = engine.row_cap()
        ExportAudit.objects.filter(pk=audit.pk).update(rows_expected=min(expected.count(), cap))
        with tempfile.TemporaryFile(dir=settings.EXPORTS_TMP_DIR) as tmp:
            result = engine.export(
                tmp,
                dataset,
                audit.format,
                audit.filters,
                writer_options,
                on_progress=progress_reporter(audit.pk),
                max_rows=cap,
            )
            size = tmp.tell()
            tmp.seek(0)
            filename = filename_for(dataset.name, result.extension, timezone.now())
            stored = exports_storage().save(storage_key(filename), File(tmp, name=filename))
        file = publish(audit, stored, filename, result, size)
        stored = None  # the DownloadFile row owns it now
        if audit.delivery == Delivery.EMAIL:
            email_link(file)
    except ExportCancelled:
        log.info("export %s was cancelled", audit.pk)
    except BaseException as exc:
        fail(audit, exc)
        if not isinstance(exc, Exception):
            raise  # a timeout or shutdown: recorded, then let django-q2 see it
    finally:
        if stored is not None:
            exports_storage().delete(stored)


def publish(audit: ExportAudit, stored: str, filename: str, result, size: int) -> DownloadFile:
    with transaction.atomic():
        now = timezone.now()
        finished = ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.COMPLETED,
            row_count=result.rows,
            bytes=size,
            finished_at=now,
            notes="\n".join(result.notes),
        )
        if not finished:
            raise ExportCancelled
        return DownloadFile.objects.create(
            owner=audit.requested_by,
            audit=audit,
            stored_name=stored,
            filename=filename,
            content_type=result.content_type,
            size=size,
            created_at=now,
            expires_at=now + settings.EXPORTS_FILE_LIFETIME,
        )


def email_link(file: DownloadFile) -> None:
    from exports.notify import send_ready_email

    try:
        send_ready_email(file)
    except Exception as exc:  # the file is there; a mail failure must not hide it
        log.warning("export %s: could not send the e-mail: %s", file.audit_id, exc)
        ExportAudit.objects.filter(pk=file.audit_id).update(notes=f"E-mail not sent: {exc}")


def fail(audit: ExportAudit, exc: BaseException) -> None:
    reason = str(exc) or type(exc).__name__
    log.warning("export %s failed: %s", audit.pk, reason)
    ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
    )
