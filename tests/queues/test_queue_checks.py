"""`manage.py check` on the queue setting (exports.queues.checks): an unknown queue, a
django.tasks backend that runs nothing in the background, and django-q2's own checks only
when django-q2 carries the work. A missing package (E031, E032) is checked in a real venv
without it: tests/test_reusable_app.py."""

import django
import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from exports.queues import chosen_name

# Django 6 has the framework built in; on 5.2 the backport's modules have the same names.
BACKENDS = "django.tasks.backends" if django.VERSION >= (6, 0) else "django_tasks.backends"


def ids(**kwargs) -> list[str]:
    return sorted(m.id for m in run_checks(**kwargs) if (m.id or "").startswith("exports."))


def test_an_unknown_queue_is_an_error_that_lists_the_choices(settings):
    settings.EXPORTS_QUEUE = "rq"
    [message] = [m for m in run_checks() if m.id == "exports.E030"]
    assert "'rq'" in message.msg
    assert "'django_q', 'celery', 'tasks'" in message.hint
    with pytest.raises(ImproperlyConfigured, match="EXPORTS_QUEUE"):
        chosen_name()


@pytest.mark.parametrize(
    ("backend", "effect"),
    [("immediate.ImmediateBackend", "inside the request"), ("dummy.DummyBackend", "never")],
)
def test_a_tasks_backend_without_a_worker_is_a_warning_naming_one(settings, backend, effect):
    settings.EXPORTS_QUEUE = "tasks"
    settings.TASKS = {"default": {"BACKEND": f"{BACKENDS}.{backend}"}}
    [message] = [m for m in run_checks() if m.id == "exports.W030"]
    assert backend.split(".")[1] in message.msg and effect in message.msg
    assert "django_tasks_db.DatabaseBackend" in message.hint and "exports_clock" in message.hint


def test_no_tasks_setting_means_django_s_immediate_backend_and_is_warned_about(settings):
    settings.EXPORTS_QUEUE = "tasks"
    del settings.TASKS
    assert "exports.W030" in ids()


def test_a_database_tasks_backend_and_celery_pass(settings):
    settings.EXPORTS_QUEUE = "tasks"
    assert not {"exports.E030", "exports.E032", "exports.W030"} & set(ids())
    settings.EXPORTS_QUEUE = "celery"
    assert "exports.E031" not in ids()


@pytest.mark.parametrize("queue", ["celery", "tasks"])
def test_django_q_s_settings_are_not_asked_for_on_another_queue(settings, queue):
    settings.EXPORTS_QUEUE = queue
    del settings.Q_CLUSTER
    assert not {"exports.E011", "exports.E012"} & set(ids())
    settings.EXPORTS_QUEUE = "django_q"
    assert "exports.E011" in ids()
