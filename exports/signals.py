"""Signals a host project can listen to (public API).

`export_finished` (sender: ExportAudit; kwargs: audit, status) is sent once per export when it
reaches completed, failed or cancelled, by whichever process made that change (the worker,
the sweeper, the web request that cancelled it, an immediate download), after the change is
committed.

`export_delivered` (sender: DeliveryLog; kwargs: delivery, audit, recipient) is sent when a
schedule's file has reached one recipient (their My downloads plus an e-mail, or an
attachment to an outside address), after the delivery is recorded.

Receivers run in that process: keep them short, or queue a job. An exception in a receiver
is logged and never undoes the export or the delivery.
"""

import logging

from django.db import DatabaseError
from django.dispatch import Signal

log = logging.getLogger(__name__)

export_finished = Signal()
export_delivered = Signal()


def announce(signal: Signal, sender: type, **kwargs) -> None:
    """send_robust, with every receiver's exception logged rather than lost."""
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "exports: a receiver of %s failed: %r",
                getattr(receiver, "__qualname__", receiver),
                result,
                exc_info=result,
            )


def finished(audit_id) -> None:
    """Send export_finished for an export that has just ended."""
    from exports.models import ExportAudit

    try:
        audit = ExportAudit.objects.filter(pk=audit_id).first()
    except DatabaseError:  # the export itself is recorded; only the news is lost
        log.exception("exports: could not announce the end of export %s", audit_id)
        return
    if audit is not None and not audit.is_pending:
        announce(export_finished, ExportAudit, audit=audit, status=audit.status)
