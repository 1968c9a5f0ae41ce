"""`{% scheduled_exports %}`: the Scheduled section of My downloads (the user's schedules)."""

from django import template
from django.db.models import OuterRef, QuerySet, Subquery

from exports.models import ExportSchedule, ScheduleRun
from exports.scheduling.timing import Timing

register = template.Library()


def schedules_of(user) -> QuerySet:
    latest = ScheduleRun.objects.filter(schedule=OuterRef("pk")).order_by("-started_at")
    return (
        ExportSchedule.objects.filter(saved_export__owner=user)
        .select_related("saved_export")
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_message=Subquery(latest.values("message")[:1]),
            last_started=Subquery(latest.values("started_at")[:1]),
        )
        .order_by("saved_export__name", "pk")
    )


@register.inclusion_tag("exports/_scheduled.html", takes_context=True)
def scheduled_exports(context) -> dict:
    schedules = list(schedules_of(context["request"].user))
    for schedule in schedules:
        schedule.timing_text = Timing.of(schedule).describe()
    return {"schedules": schedules, "csrf_token": context.get("csrf_token")}
