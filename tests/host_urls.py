"""The test suite's URLconf: the demo project's, plus the host app's second AdminSite."""

from django.urls import path

from project.urls import urlpatterns as project_urls
from tests.hostapp.admin import crm_site

urlpatterns = [path("crm/", crm_site.urls), *project_urls]
