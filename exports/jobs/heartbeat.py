"""A running export's pulse, independent of how fast rows arrive.

Progress already beats every few thousand rows; a slow query or a slow writer can go minutes
without one. This thread beats every EXPORTS_HEARTBEAT_SECONDS on its own connection, so the
sweeper can tell a slow export from a dead worker.
"""

import logging
import threading

from django.db import DatabaseError, connections
from django.utils import timezone

from exports.conf import app_settings
from exports.models import ExportAudit, ExportStatus

log = logging.getLogger(__name__)


class Heartbeat:
    """`with Heartbeat(audit_id, attempt):` beats until the block ends or the row is not ours."""

    def __init__(self, audit_id, attempt: int, every: float | None = None) -> None:
        self.audit_id, self.attempt = audit_id, attempt
        self.every = every if every is not None else app_settings.HEARTBEAT_SECONDS
        self.stop = threading.Event()
        self.lost = False
        self.thread = threading.Thread(target=self.run, name=f"heartbeat-{audit_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join(timeout=max(5.0, self.every))

    def beat(self) -> bool:
        """False once the export was cancelled, failed or handed to another attempt."""
        return bool(
            ExportAudit.objects.filter(
                pk=self.audit_id, status=ExportStatus.RUNNING, attempts=self.attempt
            ).update(heartbeat_at=timezone.now())
        )

    def run(self) -> None:
        try:
            while not self.stop.wait(self.every):
                try:
                    if not self.beat():
                        self.lost = True
                        return
                except DatabaseError as exc:  # the database went away: try again next beat
                    log.warning("heartbeat for export %s failed: %s", self.audit_id, exc)
                    connections["default"].close()
        finally:
            connections.close_all()  # this thread's own connections
