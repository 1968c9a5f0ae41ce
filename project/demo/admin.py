from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils.html import format_html

from exports.admin import ExportMixin
from project.demo.models import (
    Game,
    Task,
    UserInteraction,
    UserPoint,
    Voucher,
    WalletTransaction,
)


@admin.register(Game)
class GameAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]


@admin.register(Task)
class TaskAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ["name", "game", "created"]
    list_filter = ["game"]
    search_fields = ["name"]


@admin.register(UserPoint)
class UserPointAdmin(ExportMixin, admin.ModelAdmin):
    export_dataset = "user_points"
    list_display = ["id", "user", "player", "game", "task", "points", "scored", "created"]
    list_filter = ["game", "created"]
    search_fields = ["user__username"]
    list_select_related = ["user", "game", "task"]
    raw_id_fields = ["user", "game", "task"]
    show_full_result_count = False

    @admin.display(description="Player", ordering="user__last_name")
    def player(self, obj: UserPoint) -> str:
        name = obj.user.get_full_name() or obj.user.username
        return format_html('<a href="mailto:{}">{}</a>', obj.user.email, name)

    @admin.display(boolean=True, description="Scored", ordering="points")
    def scored(self, obj: UserPoint) -> bool:
        return obj.points > 0


@admin.register(UserInteraction)
class UserInteractionAdmin(ExportMixin, admin.ModelAdmin):
    export_dataset = "user_interactions"
    list_display = ["id", "user", "action", "created"]
    list_filter = ["action"]
    raw_id_fields = ["user"]
    show_full_result_count = False


@admin.register(WalletTransaction)
class WalletTransactionAdmin(ExportMixin, admin.ModelAdmin):
    export_dataset = "wallet_transactions"
    list_display = ["id", "user", "kind", "amount", "direction", "created"]
    list_filter = ["kind"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    @admin.display(description="In/out", ordering="amount")
    def direction(self, obj: WalletTransaction) -> str:
        incoming = obj.amount >= 0
        return format_html(
            '<span style="color: {}">{}</span>',
            "green" if incoming else "red",
            "in" if incoming else "out",
        )


@admin.register(Voucher)
class VoucherAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ["label", "value", "created"]


# The users changelist exports too, through the `users` dataset (never a password hash).
class ExportingUserAdmin(ExportMixin, UserAdmin):
    export_dataset = "users"


admin.site.unregister(User)
admin.site.register(User, ExportingUserAdmin)
