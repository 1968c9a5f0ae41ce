"""The one mixin a ModelAdmin adds to get exports."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from exports.admin.options import export_action
from exports.datasets.changelist import EXPORT_PERMISSION

ACTION = "export_rows"


class ExportMixin:
    """`class MyAdmin(ExportMixin, admin.ModelAdmin)`. Optional: `export_dataset` (a declared
    dataset whose columns to use) or `export_columns` (ORM paths); default: every field
    outside the deny-list."""

    export_dataset: str = ""
    export_columns: list[str] | None = None
    actions = [ACTION]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION) and self.has_view_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # The admin hides actions a user may not run; posting one anyway is a 403, not a no-op.
        if request.POST.get("action") == ACTION and not self.has_export_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    @admin.action(permissions=["export"], description="Export…")
    def export_rows(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return export_action(self, request, queryset)
