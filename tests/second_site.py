"""A URLconf as a host project might have: the default admin, plus a second AdminSite that
gets Export… on every ModelAdmin from one enable_export() line, and a ModelAdmin that reads
what a middleware put on the request."""

from django.contrib import admin
from django.urls import include, path
from django_q.models import Task

from exports.admin import enable_export
from exports.models import ExportAudit
from project.demo.models import Game, UserPoint

TENANT_HOST = "tenant.example.com"

site = admin.AdminSite(name="second")


class TenantMiddleware:
    """Sets request.tenant (a Game, standing in for a tenant) from a header."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        pk = request.headers.get("X-Tenant")
        request.tenant = Game.objects.filter(pk=pk).first() if pk else None
        return self.get_response(request)


class TenantPointAdmin(admin.ModelAdmin):
    """Only the tenant's rows, and only on the tenant's host."""

    list_filter = ["task"]

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.get_host() != TENANT_HOST or request.tenant is None:
            return rows.none()
        return rows.filter(game=request.tenant)


class AuditAdmin(admin.ModelAdmin):
    """A UUID primary key, and actions of its own."""

    actions = ["mark"]

    @admin.action(description="Mark")
    def mark(self, request, queryset) -> None:
        pass


class TaskAdmin(admin.ModelAdmin):
    """A string primary key; export_columns works without the mixin too."""

    export_columns = ["id", "name", "success"]
    # Task's name and success are not editable: only the changelist shows them, and an
    # export carries only what the admin shows.
    list_display = ["id", "name", "success"]


site.register(UserPoint, TenantPointAdmin)
site.register(ExportAudit, AuditAdmin)
enable_export(site)
site.register(Task, TaskAdmin)  # after enable_export(): still gets Export…

urlpatterns = [
    path("admin/", admin.site.urls),
    path("second/", site.urls),
    path("downloads/", include("exports.urls")),
]
