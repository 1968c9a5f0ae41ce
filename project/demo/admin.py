from django.contrib import admin

from exports.actions import ExportActionsMixin
from project.demo.models import Game, Task, UserInteraction, UserPoint, WalletTransaction


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["name", "game", "created"]
    list_filter = ["game"]
    search_fields = ["name"]


@admin.register(UserPoint)
class UserPointAdmin(ExportActionsMixin, admin.ModelAdmin):
    export_dataset = "user_points"
    list_display = ["id", "user", "game", "task", "points", "created"]
    list_filter = ["game", "created"]
    search_fields = ["user__username"]
    list_select_related = ["user", "game", "task"]
    raw_id_fields = ["user", "game", "task"]
    show_full_result_count = False


@admin.register(UserInteraction)
class UserInteractionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "action", "created"]
    list_filter = ["action"]
    raw_id_fields = ["user"]
    show_full_result_count = False


@admin.register(WalletTransaction)
class WalletTransactionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "kind", "amount", "created"]
    list_filter = ["kind"]
    raw_id_fields = ["user"]
    show_full_result_count = False
