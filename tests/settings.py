"""The test suite's settings: the demo project's, with a host app installed beside it as a
real project would add its own (tests.hostapp: its middleware, router and second AdminSite)."""

import copy

import django

from project.settings import *  # noqa: F403
from project.settings import DATABASES, INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "tests.hostapp"]
MIDDLEWARE = [*MIDDLEWARE, "tests.hostapp.middleware.DeskMiddleware"]
ROOT_URLCONF = "tests.host_urls"
DATABASES["crm_reads"] = {**copy.deepcopy(DATABASES["default"]), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["tests.hostapp.router.CrmRouter"]

# Django's Tasks framework on django-tasks-db (tests/queues: a real `db_worker`): its tables in
# the test database. The queue stays django-q2 (EXPORTS_QUEUE) unless a test overrides it.
if "django_tasks_db" not in INSTALLED_APPS:
    INSTALLED_APPS += ["django_tasks"] if django.VERSION < (6, 0) else []
    INSTALLED_APPS += ["django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
