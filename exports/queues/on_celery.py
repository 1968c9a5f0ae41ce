"""Celery: one task, `exports.call`, carries every job; Celery beat runs the periodic ones.

acks_late with reject_on_worker_lost: a job whose worker process dies is delivered again (the
database decides whether it still needs running). A host's Celery app loads this module when
Django starts (ExportsConfig.ready), so `celery -A proj worker` knows the task.
"""

from datetime import datetime

from celery import shared_task
from django.utils.module_loading import import_string

TASK_NAME = "exports.call"


@shared_task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def call(func: str, *args) -> None:
    import_string(func)(*args)


def joins_transaction() -> bool:
    return False


def send(func: str, args: tuple, name: str) -> None:
    call.apply_async(args=(func, *args), shadow=name)


def waiting(now: datetime) -> set[str] | None:
    return None


def beat_schedule() -> dict[str, dict]:
    """Entries for the host's `app.conf.beat_schedule` (README: "Running on Celery")."""
    from exports.queues import PERIODIC

    return {
        job.name: {"task": TASK_NAME, "schedule": 60.0 * job.minutes(), "args": (job.func,)}
        for job in PERIODIC
    }
