"""Finds exports no worker is looking after and puts them right (runs on a schedule).

- running, heartbeat older than EXPORTS_STALE_SECONDS: the worker died (SIGKILL, OOM, lost
  machine). Back to queued and sent again while attempts < EXPORTS_MAX_ATTEMPTS, else failed.
  `manage.py export` beats like a worker; when it stops, its export is failed, never queued.
  Immediate downloads have no job to resend: failed after EXPORTS_IMMEDIATE_STALE_SECONDS.
- queued for longer than EXPORTS_REQUEUE_AFTER_SECONDS with no job in the broker: the job was
  lost (enqueue-on-commit never ran, a Redis worker died holding it). Sent again.
A duplicate job is harmless: only one delivery can win runner.claim.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from exports import queues
from exports.conf import app_settings
from exports.db import write_atomic
from exports.i18n import speaking
from exports.jobs.accept import enqueue
from exports.models import Delivery, ExportAudit, ExportStatus
from exports.signals import finished

log = logging.getLogger(__name__)
BATCH = 100
# Exports with no job a worker could run again: they are failed when they stop beating.
NO_JOB = (Delivery.IMMEDIATE, Delivery.COMMAND)


@dataclass
class Swept:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)


def sweep(now: datetime | None = None) -> Swept:
    now = now or timezone.now()
    swept = Swept()
    sweep_stale(now, swept)
    resend_lost(now, swept)
    if swept.requeued or swept.failed or swept.resent:
        log.warning(
            "sweeper: requeued %s, failed %s, resent %s", swept.requeued, swept.failed, swept.resent
        )
    return swept


def stale_running(now: datetime):
    worker_stale = now - timedelta(seconds=app_settings.STALE_SECONDS)
    immediate_stale = now - timedelta(seconds=app_settings.IMMEDIATE_STALE_SECONDS)
    beat = Coalesce("heartbeat_at", "started_at", "queued_at")
    return (
        ExportAudit.objects.filter(status=ExportStatus.RUNNING)
        .alias(beat=beat)
        .filter(
            Q(beat__lt=worker_stale) & ~Q(delivery=Delivery.IMMEDIATE)
            | Q(beat__lt=immediate_stale, delivery=Delivery.IMMEDIATE)
        )
    )


def sweep_stale(now: datetime, swept: Swept) -> None:
    with write_atomic():
        for audit in stale_running(now).select_for_update(skip_locked=True)[:BATCH]:
            # Conditional on the beat we saw: a worker that beat since keeps its export.
            still = ExportAudit.objects.filter(
                pk=audit.pk,
                status=ExportStatus.RUNNING,
                attempts=audit.attempts,
                heartbeat_at=audit.heartbeat_at,
            )
            if audit.delivery in NO_JOB or audit.attempts >= max_attempts():
                if still.update(
                    status=ExportStatus.FAILED,
                    error=in_its_language(audit, gave_up_reason),
                    reserved_bytes=0,
                    finished_at=now,
                ):
                    swept.failed.append(str(audit.pk))
                    transaction.on_commit(partial(finished, audit.pk))
            elif back_to_queue(audit, still, in_its_language(audit, requeued_note), now):
                swept.requeued.append(str(audit.pk))


def back_to_queue(audit: ExportAudit, attempt, note: str, now: datetime | None = None) -> bool:
    """`attempt` (a queryset: the running export as last seen) -> queued, with a new job: in
    the same transaction with the ORM broker, on commit with any other."""
    with transaction.atomic():
        if not attempt.update(
            status=ExportStatus.QUEUED,
            heartbeat_at=now or timezone.now(),
            reserved_bytes=0,
            row_count=0,
            error="",
            notes=note,
        ):
            return False
        enqueue(audit)
    return True


def max_attempts() -> int:
    return app_settings.MAX_ATTEMPTS


def in_its_language(audit: ExportAudit, text: Callable[[ExportAudit], str]) -> str:
    """What the audit row says, in the export's language (its owner reads it)."""
    with speaking(audit.options):
        return text(audit)


def requeued_note(audit: ExportAudit) -> str:
    text = _("Worker stopped responding during attempt %(attempt)s; re-queued.")
    return text % {"attempt": audit.attempts}


def gave_up_reason(audit: ExportAudit) -> str:
    if audit.delivery == Delivery.IMMEDIATE:
        return _("The download was interrupted: the web process stopped responding.")
    if audit.delivery == Delivery.COMMAND:
        return _("The export command stopped responding (killed or lost); its file is incomplete.")
    text = _(
        "The worker stopped responding (attempt %(attempt)s of %(most)s); gave up. Try the "
        "export again, perhaps with fewer rows."
    )
    return text % {"attempt": audit.attempts, "most": max_attempts()}


def resend_lost(now: datetime, swept: Swept) -> None:
    before = now - timedelta(seconds=app_settings.REQUEUE_AFTER_SECONDS)
    with write_atomic():
        waiting = (
            ExportAudit.objects.filter(status=ExportStatus.QUEUED)
            .alias(sent=Coalesce("heartbeat_at", "queued_at"))
            .filter(sent__lt=before)
            .select_for_update(skip_locked=True)[:BATCH]
        )
        waiting = list(waiting)
        in_queue = (queues.waiting(now) or set()) if waiting else set()
        for audit in waiting:
            if f"export-{audit.pk}" in in_queue:
                continue  # still in the queue, just not reached yet
            ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.QUEUED).update(
                heartbeat_at=now
            )
            enqueue(audit)
            swept.resent.append(str(audit.pk))


def sweep_task() -> dict[str, int]:
    """The periodic job (exports.queues.PERIODIC)."""
    swept = sweep()
    return {
        "requeued": len(swept.requeued),
        "failed": len(swept.failed),
        "resent": len(swept.resent),
    }
