from django.contrib import admin, messages
from django.http import HttpRequest

from exports.models import DownloadFile, ExportAudit
from exports.purge import purge_expired


@admin.register(ExportAudit)
class ExportAuditAdmin(admin.ModelAdmin):
    """Read-only for everyone: an audit trail nobody edits."""

    list_display = [
        "queued_at",
        "dataset",
        "format",
        "requested_by_display",
        "status",
        "row_count",
        "bytes",
    ]
    list_filter = ["status", "dataset", "format", "queued_at"]
    search_fields = ["requested_by_display", "dataset", "error"]
    date_hierarchy = "queued_at"
    exclude = ["requested_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
