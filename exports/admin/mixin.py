"""The one mixin a ModelAdmin adds to get exports, and who may use them."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from exports.admin.options import export_action
from exports.datasets.access import may_export as may_export_at_all

ACTION = "export_rows"
DESCRIPTION = _("Export…")


def may_export(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """Who may export at all (datasets.access) with the model's view permission."""
    return may_export_at_all(request.user) and model_admin.has_view_permission(request)


class ExportMixin:
    """`class MyAdmin(ExportMixin, admin.ModelAdmin)`. Optional: `export_dataset` (a declared
    dataset whose columns to use) or `export_columns` (ORM paths); default: every field
    outside the deny-list. Export… stays in the actions even when the class sets its own
    `actions = [...]`; only `actions = None` (no actions at all) removes it."""

    export_dataset: str = ""
    export_columns: list[str] | None = None
    actions = [ACTION]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return may_export(self, request)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict:
        """`action_location`: Django 6.1's (change list or change form); 5.2 has none."""
        where = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **where)
        if ACTION in actions or self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        action = self.get_action(ACTION, **where)  # None where Export… does not belong
        if action is not None and self.has_export_permission(request):
            # 5.2: a (func, name, description) tuple; 6.1: an Action with .name.
            actions[action.name if hasattr(action, "name") else action[1]] = action
        return actions

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # The admin hides actions a user may not run; posting one anyway is a 403, not a no-op.
        if request.POST.get("action") == ACTION and not self.has_export_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    @admin.action(permissions=["export"], description=DESCRIPTION)
    def export_rows(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return export_action(self, request, queryset)
