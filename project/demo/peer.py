"""django-import-export's way to the demo changelist's columns, for export_bench's peer line:
a ModelResource declaring UserPointAdmin's list_display (the related objects' str(), the
player's name, the scored flag), over the same rows joined with select_related. Imported
only when django-import-export is installed (the `bench` extra)."""

from typing import Any

from django.db import models
from import_export import fields, resources

from project.demo.models import UserPoint


class UserPointResource(resources.ModelResource):
    user = fields.Field(attribute="user", column_name="User")
    player = fields.Field(column_name="Player")
    game = fields.Field(attribute="game", column_name="Game")
    task = fields.Field(attribute="task", column_name="Task")
    scored = fields.Field(column_name="Scored")

    class Meta:
        model = UserPoint
        fields = ("id", "user", "player", "game", "task", "points", "scored", "created")
        export_order = fields

    def dehydrate_player(self, obj: UserPoint) -> str:
        return obj.user.get_full_name() or obj.user.username

    def dehydrate_scored(self, obj: UserPoint) -> bool:
        return obj.points > 0


RESOURCES: dict[str, Any] = {"admin:demo.userpoint": UserPointResource}


def resource_for(name: str) -> tuple[resources.ModelResource, models.QuerySet]:
    """The resource and its queryset, in the changelist's order (newest key first)."""
    resource = RESOURCES[name]()
    queryset = UserPoint.objects.select_related("user", "game", "task").order_by("-pk")
    return resource, queryset
