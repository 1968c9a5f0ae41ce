"""django-q2 schedules, created (or corrected) idempotently after every migrate."""

from exports import checks  # noqa: F401 - registers the system checks with Django
from exports.conf import app_settings

PURGE_SCHEDULE = "exports: purge expired downloads"
SWEEP_SCHEDULE = "exports: sweep stuck and lost exports"
DUE_SCHEDULE = "exports: run due export schedules"


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    every = {
        PURGE_SCHEDULE: ("exports.delivery.purge.purge_task", app_settings.PURGE_MINUTES),
        SWEEP_SCHEDULE: ("exports.jobs.sweeper.sweep_task", app_settings.SWEEP_MINUTES),
        # Exactly once per due time however many clusters enqueue it: exports.scheduling.due.
        DUE_SCHEDULE: ("exports.jobs.scheduled.run_due_task", 1),
    }
    for name, (func, minutes) in every.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
