"""Immediate delivery: the writer runs in a thread and its bytes stream into the response.

The audit row is written before the first byte and finished after the last; a client that
goes away stops the writer at its next write and leaves the audit saying so.
"""

import contextlib
import io
import logging
import queue
import threading
from collections.abc import Iterator

from django.db import connections
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from exports import engine
from exports.datasets.base import Dataset
from exports.formats import get_writer
from exports.jobs.runner import ExportCancelled, filename_for, progress_reporter, split_options
from exports.models import ExportAudit, ExportStatus
from exports.signals import finished

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
DONE = object()


class ClientGone(Exception):
    pass


class QueueWriter(io.RawIOBase):
    """A write-only, unseekable file that hands CHUNK-sized pieces to the response."""

    def __init__(self, chunks: queue.Queue, stop: threading.Event) -> None:
        self.chunks, self.stop, self.buffer, self.total = chunks, stop, bytearray(), 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.stop.is_set():
            raise ClientGone(f"Interrupted: the client went away after {self.total} bytes.")
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.total += len(self.buffer)
            self.chunks.put(bytes(self.buffer))
            self.buffer.clear()


def produce(audit: ExportAudit, dataset: Dataset, out: QueueWriter) -> None:
    writer_options, _ = split_options(audit.options)
    ended = 0
    try:
        result = engine.export(
            out,
            dataset,
            audit.format,
            audit.filters,
            writer_options,
            on_progress=progress_reporter(audit.pk),
            max_rows=engine.row_cap(immediate=True),
        )
        out.flush()
        ended = ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.COMPLETED,
            row_count=result.rows,
            bytes=out.total,
            finished_at=timezone.now(),
            notes="\n".join(result.notes),
        )
    except ExportCancelled:
        pass
    except Exception as exc:
        log.warning("immediate export %s failed: %s", audit.pk, exc)
        ended = ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED,
            error=str(exc)[:2000],
            bytes=out.total,
            finished_at=timezone.now(),
        )
    finally:
        out.chunks.put(DONE)
        if ended:
            finished(audit.pk)
        connections.close_all()  # this thread's own connections


def stream(audit: ExportAudit, dataset: Dataset) -> Iterator[bytes]:
    chunks: queue.Queue = queue.Queue(maxsize=8)  # bounded: a slow client slows the writer
    stop = threading.Event()
    worker = threading.Thread(
        target=produce, args=(audit, dataset, QueueWriter(chunks, stop)), daemon=True
    )
    worker.start()
    try:
        while (chunk := chunks.get()) is not DONE:
            yield chunk
    finally:
        stop.set()
        while worker.is_alive():  # unblock a writer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.1)


def response(audit: ExportAudit, dataset: Dataset) -> StreamingHttpResponse:
    writer = get_writer(audit.format)
    filename = filename_for(dataset.name, writer.extension, audit.queued_at)
    resp = StreamingHttpResponse(stream(audit, dataset), content_type=writer.content_type)
    resp["Content-Disposition"] = content_disposition_header(True, filename)
    resp["Cache-Control"] = "private, no-store"
    resp["X-Export-Id"] = str(audit.pk)
    return resp
