"""Exportdesk's pages in the admin's frame (issue 21), read as HTML: the empty Datasets page
tells a superuser how to declare a dataset, the breadcrumbs follow the running Django's admin,
and the "My downloads (N)" hook counts only files still ready. The browser half (computed
colours, checkbox rows) is tests/browser/test_admin_look.py."""

from datetime import timedelta

import pytest
from django.urls import reverse

from exports.datasets import registry
from exports.templatetags.exports_admin import breadcrumbs_are_a_list
from tests.conftest import make_user
from tests.factories import finished_file

PAGE = "admin:exports_datasetexport_changelist"
pytestmark = pytest.mark.django_db


@pytest.fixture
def no_datasets(monkeypatch) -> None:
    """A host that has declared no dataset yet: the real registry, emptied for this test."""
    monkeypatch.setattr(registry, "_registry", {})


def test_the_empty_datasets_page_tells_a_superuser_how_to_declare_one(admin_client, no_datasets):
    page = admin_client.get(reverse(PAGE)).content.decode()
    assert 'id="no-datasets"' in page
    assert "registry.register(" in page and "datasets.py" in page
    assert "Add Exportdesk to your project" in page
    assert 'id="dataset-export"' not in page and 'name="dataset"' not in page
    assert "Ask an administrator" not in page


def test_the_empty_datasets_page_still_sends_others_to_an_administrator(client, no_datasets):
    clerk = make_user("clerk", staff=True, export=True)
    client.force_login(clerk)
    page = client.get(reverse(PAGE)).content.decode()
    assert "Ask an administrator" in page
    assert "registry.register(" not in page and 'id="dataset-export"' not in page


def test_the_breadcrumbs_are_written_as_the_running_admin_writes_its_own(admin_client):
    app = admin_client.get(reverse("admin:app_list", args=["demo"])).content.decode()
    mine = admin_client.get(reverse("exports:my-downloads")).content.decode()
    markup = '<ol class="breadcrumbs">' if breadcrumbs_are_a_list() else '<div class="breadcrumbs">'
    assert markup in app and markup in mine


def test_the_user_link_counts_only_files_still_ready(client, staff):
    finished_file(staff)
    finished_file(staff)
    finished_file(staff, expires_in=-timedelta(minutes=1))
    finished_file(make_user("someone"))
    client.force_login(staff)
    for url in (reverse("admin:index"), reverse("exports:my-downloads")):
        page = client.get(url).content.decode()
        assert page.count('class="exports-user-link"') == 1, url
        assert "My downloads (2)</a>" in page, url


def test_a_plain_owner_gets_the_frame_without_admin_links(client, alice):
    finished_file(alice)
    client.force_login(alice)
    for url in (reverse("exports:my-downloads"), reverse("exports:api-tokens")):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert "My downloads (1)</a>" in page
        assert f'href="{reverse("admin:index")}"' not in page and 'id="nav-sidebar"' not in page
