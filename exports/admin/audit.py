"""Exportdesk's own admins: the read-only audit trail, the Datasets page and download files."""

import json

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from exports.admin.forms import DatasetExportForm
from exports.admin.options import accept
from exports.admin.saving import save_as, wants_saving
from exports.clock import local
from exports.datasets import capture
from exports.datasets.access import may_export
from exports.datasets.changelist import can_export, exportable_datasets
from exports.delivery.purge import purge_expired
from exports.models import DatasetExport, DownloadFile, ExportAudit, FileGone


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def took(audit: ExportAudit) -> str:
    if audit.duration is None:
        return "–"
    seconds = round(audit.duration.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class DatasetFilter(admin.SimpleListFilter):
    """By dataset, named by title ("User points"), not by key ("admin:demo.userpoint")."""

    title = "dataset"
    parameter_name = "dataset"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        keys = model_admin.get_queryset(request).order_by().values_list("dataset", flat=True)
        titles = {key: ExportAudit(dataset=key).dataset_title for key in keys.distinct()}
        return sorted(titles.items(), key=lambda item: item[1].lower())

    def queryset(self, request: HttpRequest, queryset):
        return queryset.filter(dataset=self.value()) if self.value() else queryset


class RequesterFilter(admin.SimpleListFilter):
    title = "requested by"
    parameter_name = "requested_by"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        names = model_admin.get_queryset(request).order_by("requested_by_display")
        return [(n, n) for n in names.values_list("requested_by_display", flat=True).distinct()]

    def queryset(self, request: HttpRequest, queryset):
        return queryset.filter(requested_by_display=self.value()) if self.value() else queryset


@admin.register(ExportAudit)
class ExportAuditAdmin(ReadOnlyAdmin):
    """An audit trail nobody edits, and that never shows more than the requester's label.
    The list keeps to a few short columns so it reads at 1280 px without scrolling sideways."""

    list_display = [
        "queued",
        "dataset_name",
        "format_and_delivery",
        "requester",
        "status",
        "output",
    ]
    list_filter = ["status", DatasetFilter, "format", "delivery", "trigger", RequesterFilter]
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

    @admin.display(description=_("queued"), ordering="queued_at")
    def queued(self, obj: ExportAudit) -> str:
        return date_format(local(obj.queued_at), "Y-m-d H:i")

    @admin.display(description=_("dataset"), ordering="dataset")
    def dataset_name(self, obj: ExportAudit) -> str:
        return obj.dataset_title

    @admin.display(description=_("format · delivery"), ordering="format")
    def format_and_delivery(self, obj: ExportAudit) -> str:
        return f"{obj.format} · {obj.delivery}"

    @admin.display(description=_("requested by"), ordering="requested_by_display")
    def requester(self, obj: ExportAudit) -> str:
        return format_html('<span class="requester">{}</span>', obj.requested_by_display)

    @admin.display(description=_("result"), ordering="row_count")
    def output(self, obj: ExportAudit) -> str:
        return format_html(
            "{} rows<br>{} · {}", f"{obj.row_count:,}", filesizeformat(obj.bytes), took(obj)
        )

    @admin.display(description=_("filters"))
    def filters_json(self, obj: ExportAudit) -> str:
        return pretty_json(capture.shown(obj.filters))

    @admin.display(description=_("options"))
    def options_json(self, obj: ExportAudit) -> str:
        return pretty_json(obj.options)


@admin.register(DatasetExport)
class DatasetsAdmin(ReadOnlyAdmin):
    """The declared datasets this user may export, with a date range, game/task and a row
    limit. One page and nothing else: audit rows are shown by ExportAuditAdmin only."""

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name="{}_{}_changelist".format(*info))]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None:
            return False
        return may_export(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        posted = request.POST.get("dataset", "")
        if posted and not can_export(request.user, posted):
            raise PermissionDenied
        datasets = exportable_datasets(request.user)
        form = DatasetExportForm(
            request.POST or None, initial=request.GET.dict() or None, datasets=datasets
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            options = form.export_options()
            if wants_saving(request):
                filters = form.export_filters()
                saved = save_as(request, data["dataset"], data["format"], filters, options)
                return saved or HttpResponseRedirect(request.path)
            response = accept(
                request,
                data["dataset"],
                data["format"],
                form.export_filters(),
                form.export_options(),
                data["delivery"],
            )
            return response or HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Export a dataset"),
            "opts": self.model._meta,
            "form": form,
            "datasets": datasets,
        }
        return TemplateResponse(request, "admin/exports/datasets.html", context)


@admin.register(DownloadFile)
class DownloadFileAdmin(admin.ModelAdmin):
    """Files in storage. "Purge expired now" (a button, not an action: it never depended on
    a selection) runs the same purge as the schedule and the command."""

    list_display = ["filename", "owner", "size_display", "created_at", "expires_at", "time_left"]
    list_filter = ["created_at", "expires_at"]
    # The owner's login field, whatever the user model calls it (an e-mail, say).
    search_fields = ["filename", f"owner__{get_user_model().USERNAME_FIELD}"]
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

    def get_urls(self) -> list:
        purge = path(
            "purge-expired/",
            self.admin_site.admin_view(self.purge_view),
            name="exports_downloadfile_purge",
        )
        return [purge, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        context = {"can_purge": self.has_delete_permission(request)}
        if context["can_purge"]:
            context["expired_count"] = DownloadFile.objects.expired().count()
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def purge_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_delete_permission(request):
            raise PermissionDenied
        count = len(purge_expired())
        text = ngettext(
            "Purged %(count)d expired download.", "Purged %(count)d expired downloads.", count
        )
        self.message_user(request, text % {"count": count}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:exports_downloadfile_changelist"))

    def delete_model(self, request: HttpRequest, obj: DownloadFile) -> None:
        DownloadFile.objects.filter(pk=obj.pk).record_gone(FileGone.ADMIN)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        queryset.record_gone(FileGone.ADMIN)
        super().delete_queryset(request, queryset)
