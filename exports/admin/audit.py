import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from exports.admin.forms import DatasetExportForm
from exports.admin.options import accept
from exports.admin.saving import save_as, wants_saving
from exports.datasets.base import DATASETS
from exports.datasets.changelist import EXPORT_PERMISSION
from exports.delivery.purge import purge_expired
from exports.models import DatasetExport, DownloadFile, ExportAudit


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(ExportAudit)
class ExportAuditAdmin(ReadOnlyAdmin):
    """An audit trail nobody edits, and that never shows more than the requester's label."""

    list_display = [
        "queued_at",
        "dataset",
        "format",
        "delivery",
        "requested_by_display",
        "status",
        "row_count",
        "bytes",
        "duration",
    ]
    list_filter = [
        "status",
        "dataset",
        "format",
        "delivery",
        "trigger",
        "requested_by_display",
        "queued_at",
    ]
    search_fields = ["requested_by_display", "dataset", "error", "id"]
    date_hierarchy = "queued_at"
    fields = [
        "id",
        "dataset",
        "format",
        "delivery",
        "trigger",
        "schedule",
        "saved_export",
        "requested_by_display",
        "status",
        "filters_json",
        "options_json",
        "rows_expected",
        "row_count",
        "bytes",
        "queued_at",
        "started_at",
        "finished_at",
        "duration",
        "attempts",
        "error",
        "notes",
    ]
    readonly_fields = fields

    @admin.display(description="filters")
    def filters_json(self, obj: ExportAudit) -> str:
        return pretty_json(obj.filters)

    @admin.display(description="options")
    def options_json(self, obj: ExportAudit) -> str:
        return pretty_json(obj.options)


@admin.register(DatasetExport)
class DatasetsAdmin(ReadOnlyAdmin):
    """The registered datasets, exported with a date range, game/task and a row limit."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.has_perm(EXPORT_PERMISSION)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DatasetExportForm(request.POST or None, initial=request.GET.dict() or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            options = {"data_dictionary": True} if data["data_dictionary"] else {}
            if wants_saving(request):
                filters = form.export_filters()
                saved = save_as(request, data["dataset"], data["format"], filters, options)
                return saved or HttpResponseRedirect(request.path)
            response = accept(
                request,
                data["dataset"],
                data["format"],
                form.export_filters(),
                options,
                data["delivery"],
            )
            return response or HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": "Export a dataset",
            "opts": self.model._meta,
            "form": form,
            "datasets": DATASETS.values(),
        }
        return TemplateResponse(request, "admin/exports/datasets.html", context)


@admin.register(DownloadFile)
class DownloadFileAdmin(admin.ModelAdmin):
    list_display = ["filename", "owner", "size_display", "created_at", "expires_at", "time_left"]
    list_filter = ["created_at", "expires_at"]
    search_fields = ["filename", "owner__username"]
    actions = ["purge_expired_downloads"]
    readonly_fields = [
        "owner",
        "audit",
        "stored_name",
        "filename",
        "content_type",
        "size",
        "created_at",
        "expires_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(permissions=["delete"], description="Purge all expired downloads")
    def purge_expired_downloads(self, request: HttpRequest, queryset) -> None:
        removed = purge_expired()
        self.message_user(request, f"Purged {len(removed)} expired download(s).", messages.SUCCESS)
