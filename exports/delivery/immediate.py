"""Immediate delivery: the export is written to a temporary file, then sent with its length.

A streamed response without a length cannot say it failed: Django's own server (runserver,
`make run`) ends such a body by closing the connection, which a browser takes for the end of
a whole file. So the rows go to a temporary file first (at most EXPORTS_MAX_ROWS_IMMEDIATE
of them); a failure or a cancel before the first byte becomes an error the requester reads,
and the file goes out with Content-Length, so a transfer cut short is visibly incomplete to
the browser. The audit row is written before the first byte and finished after the last.
"""

import logging
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext, override

from exports import engine
from exports.conf import app_settings
from exports.datasets.base import Dataset
from exports.engine import Result
from exports.formats import get_writer
from exports.jobs.runner import (
    ExportCancelled,
    filename_for,
    progress_reporter,
    reason_for,
    split_options,
)
from exports.models import ExportAudit, ExportStatus
from exports.signals import finished

log = logging.getLogger(__name__)
CHUNK = 256 * 1024


class ImmediateFailed(Exception):
    """The export did not finish; the audit row already says why, and so does the message."""


def finish(audit_id, **fields) -> None:
    """Only a running row changes: a cancel or the sweeper may have ended it already."""
    ended = ExportAudit.objects.filter(pk=audit_id, status=ExportStatus.RUNNING).update(
        finished_at=timezone.now(), **fields
    )
    if ended:
        finished(audit_id)


def spool(audit: ExportAudit, dataset: Dataset, tmp: BinaryIO) -> Result:
    """Rows into `tmp`; raises ImmediateFailed with the reason when they do not all get there."""
    writer_options, _ = split_options(audit.options)
    try:
        return engine.export(
            tmp,
            dataset,
            audit.format,
            audit.filters,
            writer_options,
            on_progress=progress_reporter(audit.pk),
            max_rows=engine.row_cap(immediate=True),
        )
    except ExportCancelled:
        raise ImmediateFailed(gettext("The export was cancelled.")) from None
    except BaseException as exc:
        with override(None):  # the log in English, the audit row and the page in the user's
            log.warning("immediate export %s failed: %s", audit.pk, reason_for(exc))
        reason = reason_for(exc)
        finish(audit.pk, status=ExportStatus.FAILED, error=reason[:2000], bytes=tmp.tell())
        if not isinstance(exc, Exception):
            raise
        raise ImmediateFailed(reason) from exc


class SpooledBody:
    """The finished file as the response body; `close()` (always called by the WSGI server)
    records whether every byte went out."""

    def __init__(self, audit: ExportAudit, tmp: BinaryIO, size: int, result: Result) -> None:
        self.audit, self.tmp, self.size, self.result, self.sent = audit, tmp, size, result, 0

    def __iter__(self) -> Iterator[bytes]:
        self.tmp.seek(0)
        while block := self.tmp.read(CHUNK):
            yield block
            self.sent += len(block)

    def close(self) -> None:
        self.tmp.close()
        if self.sent >= self.size:
            finish(
                self.audit.pk,
                status=ExportStatus.COMPLETED,
                row_count=self.result.rows,
                bytes=self.size,
                notes="\n".join(self.result.notes),
            )
        else:
            text = gettext("Interrupted: the client went away after %(sent)s of %(size)s bytes.")
            error = text % {"sent": self.sent, "size": self.size}
            finish(self.audit.pk, status=ExportStatus.FAILED, error=error, bytes=self.sent)


def response(audit: ExportAudit, dataset: Dataset) -> StreamingHttpResponse:
    """Raises ImmediateFailed when the export fails or is cancelled before it is whole."""
    writer = get_writer(audit.format)
    tmp = tempfile.TemporaryFile(dir=app_settings.TMP_DIR)  # noqa: SIM115 - the body closes it
    try:
        result = spool(audit, dataset, tmp)
    except BaseException:
        tmp.close()
        raise
    size = tmp.tell()
    filename = filename_for(dataset.name, writer.extension, audit.queued_at)
    resp = StreamingHttpResponse(
        SpooledBody(audit, tmp, size, result), content_type=writer.content_type
    )
    resp["Content-Length"] = str(size)
    resp["Content-Disposition"] = content_disposition_header(True, filename)
    resp["Cache-Control"] = "private, no-store"
    resp["X-Export-Id"] = str(audit.pk)
    return resp
