"""Accepting an export (audit row + queued job, committed together) and the worker entry point."""

from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

from exports.datasets import get_dataset
from exports.formats import get_writer
from exports.models import ExportAudit


def uses_orm_broker() -> bool:
    return bool(settings.Q_CLUSTER.get("orm"))


def display_name(user) -> str:
    """What the audit keeps about the requester: never a secret, only a label."""
    return user.get_username() if user is not None else "system"


def queue_export(
    user,
    dataset: str,
    fmt: str,
    filters: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> ExportAudit:
    """Validate, write the audit row, queue the job. Raises ConditionError/LookupError."""
    filters = filters or {}
    source = get_dataset(dataset)
    get_writer(fmt)
    source.filtered(filters.get("conditions"), filters.get("limit"))  # validates, runs nothing
    with transaction.atomic():
        audit = ExportAudit.objects.create(
            dataset=dataset,
            format=fmt,
            filters=filters,
            options=options or {},
            requested_by=user,
            requested_by_display=display_name(user),
        )
        enqueue(audit)
    return audit


def enqueue(audit: ExportAudit) -> None:
    """With the ORM broker the job row joins the caller's transaction (an outbox for free);
    any other broker is told only once the audit row is committed."""
    send = partial(
        async_task,
        "exports.jobs.run_export",
        str(audit.pk),
        task_name=f"export-{audit.pk}",
        group="exports",
    )
    if uses_orm_broker():
        send()
    else:
        transaction.on_commit(send)


def run_export(audit_id: str) -> None:
    """django-q2 entry point: load by id, hand over to the runner."""
    from exports.runner import run

    run(audit_id)
