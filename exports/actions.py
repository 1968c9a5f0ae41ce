"""The admin mixin that gives a changelist its export actions."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from exports.conditions import ConditionError
from exports.jobs import queue_export


class ExportActionsMixin:
    """Add to a ModelAdmin and name the dataset its rows belong to."""

    export_dataset: str = ""
    actions = ["export_selected_csv"]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("exports.export_data") and self.has_view_permission(request)

    @admin.action(permissions=["export"], description="Export selected rows as CSV")
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            queue_export(request.user, self.export_dataset, "csv", {"conditions": {"id": ids}})
        except (ConditionError, LookupError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        link = reverse("exports:my-downloads")
        self.message_user(
            request,
            format_html(
                "Exporting {} rows as CSV in the background. It will appear in "
                '<a href="{}">My downloads</a>.',
                len(ids),
                link,
            ),
            messages.SUCCESS,
        )
        return None
