"""The queue that carries Exportdesk's background work, chosen by EXPORTS_QUEUE.

Exactly-once lives in the database, not in the queue: a job only asks a worker to look at an
export (runner.claim decides who runs it, the sweeper re-sends what a queue lost or a dead
worker held), so any at-least-once queue will do. Each queue module (on_django_q, on_celery,
on_tasks) offers the same three functions:

- send(func, args, name): run the dotted function `func(*args)` on a worker, soon;
- joins_transaction(): whether a job sent inside a transaction is undone with it (its row is
  in the same database); otherwise jobs are sent once the caller's transaction commits;
- waiting(now): names of the jobs the queue still holds, or None when it cannot tell cheaply.

Periodic work (PERIODIC) runs on each queue's own clock: django-q2 schedules, Celery beat, or
`manage.py exports_clock` (a loop, or one minute's worth from cron) for django.tasks.
"""

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from types import ModuleType

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from exports.conf import app_settings

QUEUES = {
    "django_q": "exports.queues.on_django_q",
    "celery": "exports.queues.on_celery",
    "tasks": "exports.queues.on_tasks",
}


@dataclass(frozen=True)
class Periodic:
    """A job every `minutes` (read from the setting, else every minute)."""

    name: str
    func: str
    minutes_setting: str | None = None

    def minutes(self) -> int:
        if self.minutes_setting is None:
            return 1
        return max(1, int(getattr(app_settings, self.minutes_setting)))

    def due(self, minute: int) -> bool:
        """Due in this minute since the epoch: a stateless rule any number of clocks share."""
        return minute % self.minutes() == 0


PERIODIC = (
    Periodic(
        "exports: purge expired downloads", "exports.delivery.purge.purge_task", "PURGE_MINUTES"
    ),
    Periodic(
        "exports: sweep stuck and lost exports", "exports.jobs.sweeper.sweep_task", "SWEEP_MINUTES"
    ),
    # Exactly once per due time however many clocks send it: exports.scheduling.due.
    Periodic("exports: run due export schedules", "exports.jobs.scheduled.run_due_task"),
)


def chosen_name() -> str:
    name = app_settings.QUEUE
    if name not in QUEUES:
        raise ImproperlyConfigured(
            f"EXPORTS_QUEUE is {name!r}; choose one of {', '.join(map(repr, QUEUES))}."
        )
    return name


def chosen() -> ModuleType:
    return import_module(QUEUES[chosen_name()])


def send(func: str, *args, name: str) -> None:
    """Run `func(*args)` on the chosen queue: with the caller's transaction where the queue
    keeps its jobs in that database (an outbox for free), else once it commits. robust: by
    then the caller's work is committed; a queue that is down must not turn it into an error
    page. The sweeper sends a lost export's job again."""
    queue = chosen()
    if queue.joins_transaction():
        queue.send(func, args, name)
        return

    def send_now() -> None:  # a function, not a partial: on_commit(robust=True) logs its name
        queue.send(func, args, name)

    transaction.on_commit(send_now, robust=True)


def waiting(now: datetime) -> set[str] | None:
    return chosen().waiting(now)
