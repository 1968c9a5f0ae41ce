"""The test suite's settings: the demo project's, with a host app installed beside it as a
real project would add its own (tests.hostapp: its middleware, router and second AdminSite)."""

import copy

from project.settings import *  # noqa: F403
from project.settings import DATABASES, INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "tests.hostapp"]
MIDDLEWARE = [*MIDDLEWARE, "tests.hostapp.middleware.DeskMiddleware"]
ROOT_URLCONF = "tests.host_urls"
DATABASES["crm_reads"] = {**copy.deepcopy(DATABASES["default"]), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["tests.hostapp.router.CrmRouter"]
