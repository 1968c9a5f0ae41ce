"""The demo's settings with what a careless host project would get wrong, for the checks."""

import os

from project.settings import *  # noqa: F403
from project.settings import DATABASES, INSTALLED_APPS, TEMPLATES

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_q"]
del Q_CLUSTER  # noqa: F821
DATABASES = {**DATABASES, "progress": {**DATABASES["default"], "NAME": "another-database"}}
EXPORTS_FILE_LIFETIMES = 3600  # a typo
TEMPLATES = [{**TEMPLATES[0], "DIRS": [], "APP_DIRS": False}]
ROOT_URLCONF = "tests.incomplete_urls"
if os.environ.get("INCOMPLETE_MEDIA_EXPORTS"):
    MEDIA_ROOT = os.environ["INCOMPLETE_MEDIA_EXPORTS"]
    EXPORTS_ROOT = os.path.join(MEDIA_ROOT, "exports")
else:
    EXPORTS_STORAGE = "nope"
