"""A host URLconf as the USE_TZ = False report had it: Export… on every ModelAdmin of an admin
site through enable_export(), Exportdesk's own audit admin among them, beside the app's pages
and its API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from exports.admin import enable_export
from exports.admin.audit import ExportAuditAdmin
from exports.models import ExportAudit

site = admin.AdminSite(name="naive")
site.register(ExportAudit, ExportAuditAdmin)
enable_export(site)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("naive/", site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("downloads/", include("exports.urls")),
    path("api/v1/exports/", include("exports.api.urls")),
]
