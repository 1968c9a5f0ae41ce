"""Accepting an export (audit row + queued job, committed together) and the worker entry point."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import ngettext_lazy

from exports import queues
from exports.conf import app_settings
from exports.datasets.base import Dataset
from exports.datasets.changelist import dataset_for, shown_as_admin
from exports.db import write_atomic
from exports.formats import get_writer
from exports.i18n import later
from exports.jobs.quotas import refuse_if_full
from exports.models import PENDING, Delivery, ExportAudit, ExportStatus


class ExportRefused(Exception):
    """The request is valid but cannot be taken now; the message says why."""


@dataclass
class Accepted:
    audit: ExportAudit
    duplicate: bool = False


def display_name(user) -> str:
    """What the audit keeps about the requester: never a secret, only a label."""
    return user.get_username() if user is not None else "system"


def validate(user, dataset: str, fmt: str, filters: dict, options: dict) -> Dataset:
    """Everything a worker would trip over, checked before anything is written.
    Raises PermissionDenied, LookupError (dataset/format), ConditionError, MissingDependency."""
    get_writer(fmt)
    display = shown_as_admin(options)
    source = dataset_for(dataset, user, filters, options.get("columns"), display=display)
    source.filtered(filters.get("conditions"), filters.get("limit"))  # builds, runs nothing
    return source


def queue_export(
    user,
    dataset: str,
    fmt: str,
    filters: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    delivery: str = Delivery.BACKGROUND,
    display: str = "",
    **recorded: Any,
) -> Accepted:
    """An identical export already pending is returned instead of a second job.
    `display` names the requester in the audit row (default: the username); `recorded`: more
    audit fields (trigger, saved_export)."""
    filters, options = filters or {}, options or {}
    validate(user, dataset, fmt, filters, options)
    with write_atomic():
        # One request per user at a time decides duplicates and the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
        pending = ExportAudit.objects.filter(requested_by=user, status__in=PENDING)
        same = pending.filter(dataset=dataset, format=fmt, filters=filters, options=options)
        existing = same.first()
        if existing is not None:
            return Accepted(existing, duplicate=True)
        limit = app_settings.MAX_PENDING_PER_USER
        if pending.count() >= limit:
            text = ngettext_lazy(
                "You already have %(limit)s export queued or running. Wait for it to finish "
                "or cancel it on My downloads.",
                "You already have %(limit)s exports queued or running. Wait for one to finish "
                "or cancel one on My downloads.",
                limit,
            )
            raise ExportRefused(later(text, limit=limit))
        full = refuse_if_full(user)
        if full:
            raise ExportRefused(full)
        audit = ExportAudit.objects.create(
            dataset=dataset,
            format=fmt,
            filters=filters,
            options=options,
            delivery=delivery,
            requested_by=user,
            requested_by_display=display or display_name(user),
            **recorded,
        )
        enqueue(audit)
    return Accepted(audit)


def start_immediate(user, dataset: str, fmt: str, filters: dict, options: dict, display: str = ""):
    """Audit row first (running), so a download cut short stays on record."""
    source = validate(user, dataset, fmt, filters, options)
    limit = filters.get("limit")
    expected = source.filtered(filters.get("conditions"), limit).count()
    cap = app_settings.MAX_ROWS_IMMEDIATE
    if expected > cap:
        text = ngettext_lazy(
            "%(rows)s row is more than the %(cap)s an immediate download may hold; "
            "choose background delivery instead.",
            "%(rows)s rows is more than the %(cap)s an immediate download may hold; "
            "choose background delivery instead.",
            expected,
        )
        raise ExportRefused(later(text, rows=expected, cap=cap))
    now = timezone.now()
    audit = ExportAudit.objects.create(
        dataset=dataset,
        format=fmt,
        filters=filters,
        options=options,
        delivery=Delivery.IMMEDIATE,
        requested_by=user,
        requested_by_display=display or display_name(user),
        status=ExportStatus.RUNNING,
        rows_expected=expected,
        rows_matching=expected,
        queued_at=now,
        started_at=now,
    )
    return audit, source


def enqueue(audit: ExportAudit) -> None:
    """A job for the export on the chosen queue (exports.queues): in the caller's transaction
    where the queue can join it, else once it commits."""
    queues.send("exports.jobs.accept.run_export", str(audit.pk), name=f"export-{audit.pk}")


def run_export(audit_id: str) -> None:
    """The queue's entry point: load by id, hand over to the runner."""
    from exports.jobs.runner import run

    run(audit_id)
