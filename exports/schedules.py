"""django-q2 schedules, created (or corrected) idempotently after every migrate."""

from django.conf import settings

PURGE_SCHEDULE = "exports: purge expired downloads"


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=PURGE_SCHEDULE,
        defaults={
            "func": "exports.purge.purge_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.EXPORTS_PURGE_MINUTES,
            "repeats": -1,
        },
    )
