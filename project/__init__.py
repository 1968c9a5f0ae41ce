"""The demo project. Its Celery app is loaded with Django, as Celery's Django guide has it,
so that jobs sent from the web process go to its broker (only when Celery is installed)."""

from importlib.util import find_spec

if find_spec("celery") is not None:
    from project.celery import app as celery_app

    __all__ = ("celery_app",)
