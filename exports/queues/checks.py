"""System checks for the chosen queue (EXPORTS_QUEUE): a known name, its package installed
(naming the extra), and a backend that really runs jobs in the background."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exports.checks import installed
from exports.conf import app_settings
from exports.queues import QUEUES

# django.tasks backends that do not hand jobs to a worker.
NOT_BACKGROUND = {
    "ImmediateBackend": gettext_lazy("runs every export inside the request that asks for it"),
    "DummyBackend": gettext_lazy("never runs a job"),
}


@register()
def check_queue(app_configs=None, **kwargs) -> list[CheckMessage]:
    name = app_settings.QUEUE
    if name not in QUEUES:
        return [
            Error(
                _("EXPORTS_QUEUE is %(name)r, which is not a queue Exportdesk knows.")
                % {"name": name},
                hint=_("Choose one of: %(names)s.") % {"names": ", ".join(map(repr, QUEUES))},
                id="exports.E030",
            )
        ]
    if name == "celery" and not installed("celery"):
        return [
            Error(
                _("EXPORTS_QUEUE is 'celery', but Celery is not installed."),
                hint='pip install "exportdesk[celery]"',
                id="exports.E031",
            )
        ]
    if name == "tasks":
        return check_tasks_backend()
    return []


def check_tasks_backend() -> list[CheckMessage]:
    if not installed("django.tasks") and not installed("django_tasks"):
        return [
            Error(
                _(
                    "EXPORTS_QUEUE is 'tasks', but this Django has no django.tasks (Django 6.0+) "
                    "and the django-tasks backport is not installed."
                ),
                hint='pip install "exportdesk[tasks]"',
                id="exports.E032",
            )
        ]
    tasks = getattr(settings, "TASKS", None) or {}
    backend = str(tasks.get("default", {}).get("BACKEND", "ImmediateBackend"))
    kind = backend.rsplit(".", 1)[-1]
    if kind in NOT_BACKGROUND:
        return [
            Warning(
                _("TASKS['default'] uses %(backend)s, which %(effect)s.")
                % {"backend": kind, "effect": NOT_BACKGROUND[kind]},
                hint=_(
                    "Configure a backend with a worker, e.g. django-tasks-db: "
                    "TASKS = {'default': {'BACKEND': 'django_tasks_db.DatabaseBackend'}}, "
                    "then run `manage.py db_worker` and `manage.py exports_clock`."
                ),
                id="exports.W030",
            )
        ]
    return []
