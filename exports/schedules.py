"""django-q2 schedules, created (or corrected) idempotently after every migrate."""

from django.conf import settings

from exports import checks  # noqa: F401 - registers the system checks with Django

PURGE_SCHEDULE = "exports: purge expired downloads"
SWEEP_SCHEDULE = "exports: sweep stuck and lost exports"


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
    Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={
            "func": "exports.sweeper.sweep_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.EXPORTS_SWEEP_MINUTES,
            "repeats": -1,
        },
    )
