"""Saved exports: keeping a definition, and running one (or any earlier export) again with the
permissions of whoever runs it, checked now, and in their own request context (a changelist's
tenant, site and host are its author's; see scheduling.context)."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from exports.datasets import capture
from exports.jobs.accept import Accepted, queue_export, validate
from exports.models import Delivery, ExportAudit, SavedExport, Trigger
from exports.scheduling.context import for_runner


class NotSavable(ValueError):
    """The definition holds something a saved export must not keep."""


def refuse_ids(filters: dict[str, Any]) -> None:
    conditions = filters.get("conditions")
    if isinstance(conditions, dict) and isinstance(conditions.get("id"), list):
        raise NotSavable(
            _(
                "A saved export keeps filters, never a list of selected rows: use “Select all” "
                "on the changelist (the current filters and search are saved), then save."
            )
        )


def save_definition(
    owner, name: str, dataset: str, fmt: str, filters: dict[str, Any], options: dict[str, Any]
) -> SavedExport:
    """Checked as an export would be (the owner may export it, the filters are valid)."""
    name = name.strip()
    if not name:
        raise NotSavable(_("Give the saved export a name."))
    refuse_ids(filters)
    filters = capture.replayable(filters)
    validate(owner, dataset, fmt, filters, options)
    return SavedExport.objects.create(
        name=name[:200], owner=owner, dataset=dataset, format=fmt, filters=filters, options=options
    )


def may_run(user, saved: SavedExport) -> bool:
    return SavedExport.objects.visible_to(user).filter(pk=saved.pk).exists()


def run_saved(user, saved: SavedExport, request: HttpRequest | None = None) -> Accepted:
    """`request`: the one `user` clicked Run now on; anyone but the author runs in its context.
    Raises PermissionDenied, LookupError, ConditionError, ExportRefused."""
    if not may_run(user, saved):
        raise PermissionDenied(_("This saved export is neither yours nor shared with you."))
    return queue_export(
        user,
        saved.dataset,
        saved.format,
        for_runner(saved.filters, saved.owner_id, user, request),
        saved.options,
        Delivery.BACKGROUND,
        trigger=Trigger.RERUN,
        saved_export=saved,
    )


def run_again(user, audit: ExportAudit) -> Accepted:
    """An earlier export of this user's, with the same definition, as a background export."""
    if audit.requested_by_id != user.pk:
        raise PermissionDenied(_("Only the person who asked for an export can run it again."))
    return queue_export(
        user,
        audit.dataset,
        audit.format,
        capture.replayable(audit.filters),
        audit.options,
        Delivery.BACKGROUND,
        trigger=Trigger.RERUN,
        saved_export=audit.saved_export,
    )
