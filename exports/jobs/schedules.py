"""django-q2 schedules for the periodic jobs (exports.queues.PERIODIC), created (or corrected)
idempotently after every migrate when django-q2 carries the work. Other queues have clocks of
their own: Celery beat (on_celery.beat_schedule), `manage.py exports_clock`."""

from exports import checks  # noqa: F401 - registers the system checks with Django
from exports.conf import app_settings
from exports.queues import PERIODIC

PURGE_SCHEDULE, SWEEP_SCHEDULE, DUE_SCHEDULE = (job.name for job in PERIODIC)


def ensure_schedules(**kwargs) -> None:
    if app_settings.QUEUE != "django_q":
        return
    from django_q.models import Schedule

    for job in PERIODIC:
        Schedule.objects.update_or_create(
            name=job.name,
            defaults={
                "func": job.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": job.minutes(),
                "repeats": -1,
            },
        )
