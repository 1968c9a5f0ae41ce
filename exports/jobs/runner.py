"""The worker's half of an export: claim it, stream it to a temp file, publish it or fail it.

Exactly once, whatever the broker does: a delivery only runs if its conditional update wins
queued -> running, and that update numbers the attempt. Every later write (progress, publish,
fail) names the attempt too, so a worker the sweeper gave up on can never overwrite the
attempt that replaced it. Cleanup is in `finally`: django-q2's timeout is a SystemExit.
"""

import errno
import logging
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import psycopg
from django.core.files import File
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exports import engine
from exports.conf import app_settings
from exports.datasets.changelist import dataset_for, shown_as_admin
from exports.delivery.filenames import safe_filename
from exports.delivery.lifetime import API_OPTION as API_LIFETIME_OPTION
from exports.delivery.lifetime import OPTION as LIFETIME_OPTION
from exports.delivery.lifetime import lifetime_for
from exports.delivery.safesave import remove, save_whole
from exports.delivery.storage import exports_storage, storage_key
from exports.i18n import later, speaking
from exports.jobs.heartbeat import Heartbeat
from exports.jobs.progressdb import progress_alias
from exports.jobs.quotas import Reservation, bytes_under
from exports.jobs.sweeper import back_to_queue
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus
from exports.scheduling.sentlog import exactly_staged, staged_rows_for
from exports.signals import finished

log = logging.getLogger(__name__)
T = TypeVar("T")


class ExportCancelled(Exception):
    """The owner cancelled, or the sweeper handed the export to another attempt."""


def claim(audit_id: str) -> ExportAudit | None:
    """queued -> running for exactly one caller; a second delivery of the job gets None."""
    now = timezone.now()
    won = ExportAudit.objects.filter(pk=audit_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        row_count=0,
        reserved_bytes=0,
    )
    return ExportAudit.objects.get(pk=audit_id) if won else None


def progress_reporter(
    audit_id, attempt: int | None = None, check: Callable[[], None] | None = None
) -> Callable[[int], None]:
    """Saves rows written with one UPDATE on a second connection (the export's own
    transaction is still open), and learns of a cancel from the same statement."""

    alias = progress_alias()  # the default connection inside a host's TestCase

    def report(rows: int) -> None:
        mine = ExportAudit.objects.using(alias).filter(pk=audit_id, status=ExportStatus.RUNNING)
        if attempt is not None:
            mine = mine.filter(attempts=attempt)
        if not mine.update(row_count=rows, heartbeat_at=timezone.now()):
            raise ExportCancelled
        if check is not None:
            check()

    return report


def filename_for(dataset: str, extension: str, when: datetime) -> str:
    """Stamped in UTC with a Z; a naive time (USE_TZ = False) is the site's wall clock, which
    a Z would misname, so it goes without."""
    if timezone.is_naive(when):
        return safe_filename(f"{dataset}_{when:%Y%m%dT%H%M%S}.{extension}")
    in_utc = when.replace(tzinfo=None) - when.utcoffset()
    return safe_filename(f"{dataset}_{in_utc:%Y%m%dT%H%M%SZ}.{extension}")


def split_options(options: dict) -> tuple[dict, list[str] | None]:
    """Column choice belongs to the dataset, the lifetime to the file; the rest to the writer."""
    not_for_writer = ("columns", LIFETIME_OPTION, API_LIFETIME_OPTION)
    writer_options = {k: v for k, v in options.items() if k not in not_for_writer}
    return writer_options, options.get("columns")


def run(audit_id: str) -> None:
    audit = retrying(lambda: claim(audit_id), lost_connection, f"claiming export {audit_id}")
    if audit is None:
        log.info("export %s is not queued any more; skipping", audit_id)
        return
    attempt = audit.attempts
    stored: list[str] = []  # what this attempt put in storage and nobody owns yet
    try:
        with Heartbeat(audit.pk, attempt), speaking(audit.options):  # headings, notes
            filename, result, size = write(audit, attempt, stored)
            file = publish(audit, attempt, stored[0], filename, result, size)
        stored.clear()  # the DownloadFile row owns it now
        if audit.delivery == Delivery.EMAIL:
            email_link(file)
        finished(audit.pk)
    except ExportCancelled:
        log.info("export %s was cancelled", audit.pk)
    except Exception as exc:
        if not (lost_connection(exc) and try_again(audit, attempt, exc)):
            fail(audit, attempt, exc)
    except BaseException as exc:
        fail(audit, attempt, exc)
        if not isinstance(exc, Exception):
            raise  # a timeout or shutdown: recorded, then let django-q2 see it
    finally:
        for name in stored:
            remove(exports_storage(), name)
        release(audit, attempt)


def write(audit: ExportAudit, attempt: int, stored: list[str]):
    """Rows -> temp file -> storage; appends the stored name to `stored` once it exists."""
    writer_options, columns = split_options(audit.options)
    dataset = dataset_for(
        audit.dataset,
        audit.requested_by,
        audit.filters,
        columns,
        display=shown_as_admin(audit.options),
    )
    dataset = staged_rows_for(audit, dataset)  # an incremental delivery: its chosen rows only
    expected = dataset.filtered(audit.filters.get("conditions"), audit.filters.get("limit"))
    cap, matching = engine.row_cap(), expected.count()
    ExportAudit.objects.filter(pk=audit.pk).update(
        rows_expected=min(matching, cap), rows_matching=matching
    )
    quota = Reservation(audit.pk, audit.requested_by_id, attempt)
    quota.need(0)  # held from the start: a user already at the quota fails here
    with (
        tempfile.TemporaryDirectory(dir=app_settings.TMP_DIR, prefix="exportdesk-") as scratch,
        tempfile.TemporaryFile(dir=app_settings.TMP_DIR) as tmp,
        exactly_staged(dataset, audit.filters) as dataset,  # staged keys it writes, no others
    ):
        result = engine.export(
            tmp,
            dataset,
            audit.format,
            audit.filters,
            writer_options,
            on_progress=progress_reporter(
                audit.pk, attempt, lambda: quota.need(tmp.tell() + bytes_under(scratch))
            ),
            max_rows=cap,
            scratch_dir=scratch,
        )
        size = tmp.tell()
        quota.need(size)
        tmp.seek(0)
        filename = filename_for(dataset.name, result.extension, timezone.now())
        key = storage_key(filename)
        stored.append(key)  # a failed save may leave a partial object: `finally` removes it
        stored[-1] = save_retrying(key, tmp, filename)
    return filename, result, size


def save_retrying(key: str, tmp, filename: str) -> str:
    """The file is complete: an object store that is briefly unreachable is waited for rather
    than wasting the export. The heartbeat keeps beating meanwhile."""

    def save() -> str:
        tmp.seek(0)
        return save_whole(exports_storage(), key, File(tmp, name=filename))

    return retrying(save, unreachable, f"saving {key}")


def retrying(action: Callable[[], T], worth_retrying: Callable[[Exception], bool], what: str) -> T:
    """Run `action`; while it fails in a way `worth_retrying` accepts (a restart, a network
    blip), try again with growing pauses for up to EXPORTS_OUTAGE_SECONDS, then give up."""
    deadline = time.monotonic() + app_settings.OUTAGE_SECONDS
    pause = 0.5
    while True:
        try:
            return action()
        except Exception as exc:
            if not worth_retrying(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s: %s; trying again in %ss", what, exc, pause)
            if isinstance(exc, DatabaseError):
                close_connections()
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def lost_connection(exc: Exception) -> bool:
    """The database went away (a restart, a dropped connection), not a bad query. COPY runs on
    psycopg's own cursor, whose errors Django does not wrap."""
    return isinstance(
        exc, OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError
    )


def try_again(audit: ExportAudit, attempt: int, exc: Exception) -> bool:
    """A lost database connection is the database's fault, not the export's: back to the queue
    while attempts remain, as the sweeper does for a worker that died. False: fail it now."""
    if attempt >= app_settings.MAX_ATTEMPTS:
        return False
    mine = ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.RUNNING, attempts=attempt)
    text = gettext_lazy(
        "The database connection was lost during attempt %(attempt)s (%(error)s); re-queued."
    )
    note = later(text, attempt=attempt, error=exc)
    with speaking(audit.options):
        stored = str(note)[:2000]
    requeued = retrying(lambda: back_to_queue(audit, mine, stored), lost_connection, "re-queueing")
    with translation.override(None):
        log.warning("export %s: %s", audit.pk, str(note) if requeued else "not ours any more")
    return True


def unreachable(exc: Exception) -> bool:
    """A connection that failed or timed out, or a server error: worth trying again."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError
    except ImportError:  # no S3 support installed: nothing of botocore's can be raised
        return False
    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return isinstance(exc, BotoConnectionError | HTTPClientError)


def publish(
    audit: ExportAudit, attempt: int, stored: str, filename: str, result, size: int
) -> DownloadFile:
    with transaction.atomic():
        now = timezone.now()
        finished = ExportAudit.objects.filter(
            pk=audit.pk, status=ExportStatus.RUNNING, attempts=attempt
        ).update(
            status=ExportStatus.COMPLETED,
            row_count=result.rows,
            bytes=size,
            reserved_bytes=0,
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
            expires_at=now + lifetime_for(audit.options),
        )


def email_link(file: DownloadFile) -> None:
    from exports.delivery.mail import send_ready_email

    def transient(exc: Exception) -> bool:
        return lost_connection(exc) or unreachable(exc)

    try:
        retrying(lambda: send_ready_email(file), transient, f"e-mailing export {file.audit_id}")
    except Exception as exc:  # the file is there; a mail failure must not hide it
        log.warning("export %s: could not send the e-mail: %s", file.audit_id, exc)
        with speaking(file.audit.options):
            note = _("E-mail not sent: %(reason)s") % {"reason": exc}
        ExportAudit.objects.filter(pk=file.audit_id).update(notes=note)


def reason_for(exc: BaseException) -> str:
    """In the active language: English for the log, the export's for the audit row."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return _("No space left to write the export: %(error)s") % {"error": exc}
    if isinstance(exc, DatabaseError | psycopg.Error):
        text = _("The database connection failed during the export: %(error)s")
        return (text % {"error": exc}).strip()
    if unreachable(exc):
        text = _(
            "The file storage could not be reached for %(seconds)s s (%(error)s). "
            "Try the export again later."
        )
        return text % {"seconds": app_settings.OUTAGE_SECONDS, "error": exc}
    return str(exc) or type(exc).__name__


def with_fresh_connection(action: Callable[[], object]) -> object:
    """Run `action`; if the connection it used died (terminated backend, restart), reconnect
    once and try again. A second failure propagates and the sweeper cleans up later."""
    try:
        return action()
    except DatabaseError:
        close_connections()
        return action()


def close_connections() -> None:
    for alias in ("default", "progress"):
        connections[alias].close()


def fail(audit: ExportAudit, attempt: int, exc: BaseException) -> None:
    with translation.override(None):
        log.warning("export %s failed: %s", audit.pk, reason_for(exc))
    with speaking(audit.options):
        reason = reason_for(exc)
    failed = with_fresh_connection(
        lambda: ExportAudit.objects.filter(
            pk=audit.pk, status=ExportStatus.RUNNING, attempts=attempt
        ).update(
            status=ExportStatus.FAILED,
            error=reason[:2000],
            reserved_bytes=0,
            finished_at=timezone.now(),
        )
    )
    if failed:
        finished(audit.pk)


def release(audit: ExportAudit, attempt: int) -> None:
    """Whatever happened, this attempt holds no quota any more."""
    try:
        with_fresh_connection(
            lambda: (
                ExportAudit.objects.filter(pk=audit.pk, attempts=attempt)
                .exclude(reserved_bytes=0)
                .update(reserved_bytes=0)
            )
        )
    except DatabaseError:
        log.exception("export %s: could not release its quota; the sweeper will", audit.pk)
