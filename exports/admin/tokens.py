"""API tokens in the admin: who has which, when each was used, and a revoke action. Nothing
here can show a secret: only the hash is stored, and the hash is not shown either."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exports.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["label", "hint", "owner", "created_at", "last_used_at", "expires_at", "state"]
    list_filter = ["revoked_at", "expires_at", "created_at"]
    search_fields = ["label", "prefix", "owner__username"]
    list_select_related = ["owner"]
    fields = ["owner", "label", "hint", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are made by their owners (page or command): the secret is theirs

    @admin.display(description=gettext_lazy("token"))
    def hint(self, obj: ApiToken) -> str:
        return obj.hint

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj: ApiToken) -> str:
        return obj.state

    @admin.action(permissions=["change"], description=gettext_lazy("Revoke selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, _("Revoked %(count)s token(s).") % {"count": count}, messages.SUCCESS
        )
