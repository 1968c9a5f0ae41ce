"""Export… on every ModelAdmin of an admin site, in one line (no mixin on each class):

    # admin.py (or urls.py) of your project
    from exports.admin import enable_export
    enable_export()                 # admin.site
    enable_export(site=my_site)     # or any other AdminSite

It adds a site-wide action and gives each of the site's ModelAdmins, those registered later
included, the `has_export_permission` the action's permission check and the options page
ask for. A ModelAdmin's own `actions = [...]` keeps Export… (the admin always appends
site-wide actions); `actions = None` turns every action off, Export… included.
"""

from types import MethodType

from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from exports.admin.mixin import ACTION, DESCRIPTION, may_export
from exports.admin.options import export_action


@admin.action(permissions=["export"], description=DESCRIPTION)
def export_rows(
    model_admin: ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    return export_action(model_admin, request, queryset)


def equip(model_admin: ModelAdmin) -> None:
    """A ModelAdmin with ExportMixin (or its own method) keeps its own."""
    if not hasattr(model_admin, "has_export_permission"):
        model_admin.has_export_permission = MethodType(may_export, model_admin)


def enable_export(site: AdminSite | None = None) -> None:
    site = admin.site if site is None else site
    site.add_action(export_rows, ACTION)
    for model_admin in site._registry.values():
        equip(model_admin)
    if getattr(site, "exports_enabled", False):
        return
    register = site.register

    def register_and_equip(model_or_iterable, admin_class=None, **options) -> None:
        register(model_or_iterable, admin_class, **options)
        for model_admin in site._registry.values():
            equip(model_admin)

    site.register = register_and_equip
    site.exports_enabled = True


def export_enabled(site: AdminSite) -> bool:
    return getattr(site, "exports_enabled", False)
