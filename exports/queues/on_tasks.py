"""Django's Tasks framework: django.tasks (Django 6.0+), else the django-tasks backport.

One task carries every job, on the project's default task backend (TASKS["default"]; for a
real worker e.g. django-tasks-db and its `db_worker`). The framework has no scheduler:
`manage.py exports_clock` sends the periodic jobs (exports.queues.PERIODIC).
"""

from datetime import datetime

from django.utils.module_loading import import_string

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport, `exportdesk[tasks]`
    from django_tasks import task


@task()
def call(func: str, args: list) -> None:
    import_string(func)(*args)


def joins_transaction() -> bool:
    """Backends differ (a database backend writes on the caller's connection, others do
    not): sending after commit is right for all of them."""
    return False


def send(func: str, args: tuple, name: str) -> None:
    call.enqueue(func, list(args))


def waiting(now: datetime) -> set[str] | None:
    return None
