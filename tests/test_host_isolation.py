"""Exportdesk stays out of the host's way: the host's own tests need no line for it, files
default to a folder outside the source tree, e-mail links name the host the request came in
on, and every page of the app extends the app's own base template."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.urls import reverse

from exports.delivery.links import link_base, site_url_of, with_site_url
from exports.delivery.storage import PrivateFileSystemStorage, exports_root, exports_storage
from exports.jobs.accept import queue_export
from exports.jobs.progressdb import progress_alias
from exports.jobs.quotas import MIB, Reservation
from exports.jobs.runner import run
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint
from tests.conftest import ROOT
from tests.test_email import smtp  # noqa: F401 - the real SMTP server fixture

CHANGELIST = "admin:demo_userpoint_changelist"
COLUMNS = ["id", "user_id", "username", "game_id", "game", "task_id", "task", "points", "created"]


def export_immediately(client, ids: list[int]):
    data = {
        "action": "export_rows",
        "_selected_action": ids,
        "post": "yes",
        "format": "csv",
        "delivery": Delivery.IMMEDIATE,
        "columns": COLUMNS,
    }
    return client.post(reverse(CHANGELIST), data)


def assert_exported(response, ids: list[int]) -> None:
    assert response.status_code == 200, response.content[:300]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(ids)
    assert ExportAudit.objects.get().status == ExportStatus.COMPLETED


# --- the host's own tests ---------------------------------------------------------------------


@pytest.mark.django_db  # what a host's test has: its TestCase transaction, "default" only
def test_an_immediate_export_runs_inside_a_hosts_testcase(client, staff, demo_data):
    client.force_login(staff)
    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:7])
    assert_exported(export_immediately(client, ids), ids)


@pytest.mark.django_db(transaction=True)  # a TransactionTestCase that lists "default" only
def test_an_immediate_export_runs_in_a_transactional_host_test(client, staff, demo_data):
    client.force_login(staff)
    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:7])
    assert_exported(export_immediately(client, ids), ids)


@pytest.mark.django_db
def test_a_quota_reservation_works_inside_a_hosts_testcase(staff, settings):
    settings.EXPORTS_USER_QUOTA_MB, settings.EXPORTS_QUOTA_STEP_MB = 1, 0
    audit = ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by=staff,
        requested_by_display=staff.username,
        status=ExportStatus.RUNNING,
        attempts=1,
    )
    Reservation(audit.pk, staff.pk, attempt=1).need(MIB // 2)
    audit.refresh_from_db()
    assert audit.reserved_bytes == MIB // 2


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_outside_a_hosts_test_transaction_progress_has_its_own_connection():
    assert progress_alias() == "progress"


# --- where files go by default ----------------------------------------------------------------


@pytest.fixture
def no_root(settings):
    """A host that sets neither EXPORTS_ROOT nor STORAGES["exports"]."""
    del settings.EXPORTS_ROOT
    settings.STORAGES = {k: v for k, v in settings.STORAGES.items() if k != "exports"}


def test_files_default_to_the_xdg_data_folder_outside_the_checkout(
    no_root, monkeypatch, tmp_path, settings
):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    root = exports_root()
    assert root.parent == tmp_path / "data" / "exportdesk"
    assert re.fullmatch(r"project-[0-9a-f]{12}", root.name)
    assert not root.is_relative_to(ROOT)
    storage = exports_storage()
    assert isinstance(storage, PrivateFileSystemStorage)
    stored = Path(storage.path(storage.save("exports/a/b.csv", io.BytesIO(b"x"))))
    assert stored.is_relative_to(root) and stored.stat().st_mode & 0o777 == 0o600
    settings.EXPORTS_ROOT = tmp_path / "mine"  # the setting still decides where it is set
    assert exports_root() == tmp_path / "mine"


def test_without_xdg_data_home_files_go_to_the_users_local_share(no_root, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert exports_root().parent == tmp_path / "home" / ".local" / "share" / "exportdesk"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")  # invalid per the XDG spec: ignored
    assert exports_root().parent == tmp_path / "home" / ".local" / "share" / "exportdesk"


# --- links in e-mails -------------------------------------------------------------------------


def audit_with(options=None, filters=None) -> ExportAudit:
    return ExportAudit(dataset="user_points", format="csv", options=options or {}, filters=filters)


def changelist_context(scheme: str, host: str) -> dict:
    return {"request": {"site": "admin", "scheme": scheme, "meta": {"HTTP_HOST": host}}}


def test_the_request_a_link_base_comes_from_is_its_scheme_and_host(settings):
    settings.ALLOWED_HOSTS = ["exports.example.org"]
    request = RequestFactory().get("/", HTTP_HOST="exports.example.org:8443", secure=True)
    assert site_url_of(request) == "https://exports.example.org:8443"
    assert with_site_url({"bom": True}, request) == {
        "bom": True,
        "site_url": "https://exports.example.org:8443",
    }


@pytest.mark.django_db
def test_links_use_the_setting_else_the_recorded_site_else_the_changelists_request(settings):
    recorded = {"site_url": "https://a.example.org"}
    context = changelist_context("https", "b.example.org:8443")
    settings.EXPORTS_SITE_URL = ""
    assert link_base(audit_with(recorded, context)) == "https://a.example.org"
    assert link_base(audit_with({}, context)) == "https://b.example.org:8443"
    settings.EXPORTS_SITE_URL = "https://exports.example.com/"
    assert link_base(audit_with(recorded, context)) == "https://exports.example.com"


@pytest.mark.django_db
def test_an_export_no_request_asked_for_links_to_the_latest_recorded_site(settings, staff):
    settings.EXPORTS_SITE_URL = ""
    assert link_base(audit_with()) == "http://localhost"  # nothing recorded yet: a path at least
    queue_export(staff, "user_points", "csv", options={"site_url": "https://old.example.org"})
    queue_export(staff, "user_points", "json", options={"site_url": "https://new.example.org"})
    assert link_base(audit_with()) == "https://new.example.org"


@pytest.mark.django_db
def test_a_recorded_value_that_is_not_a_site_never_becomes_a_link(settings):
    settings.EXPORTS_SITE_URL = ""
    for bad in ("javascript://alert(1)", "https://evil.example/path?", "https://a b"):
        assert link_base(audit_with({"site_url": bad})) == "http://localhost"
    assert link_base(audit_with({}, changelist_context("ftp", "a.example.org"))) == (
        "http://localhost"
    )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_changelist_exports_mail_links_to_the_host_it_was_asked_on(
    smtp,  # noqa: F811 - the fixture imported above
    client,
    staff,
    demo_data,
    settings,
):
    settings.EXPORTS_SITE_URL = ""
    settings.ALLOWED_HOSTS = ["exports.example.org"]
    client.force_login(staff)
    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:3])
    data = {
        "action": "export_rows",
        "_selected_action": ids,
        "post": "yes",
        "format": "csv",
        "delivery": Delivery.EMAIL,
        "columns": COLUMNS,
    }
    response = client.post(reverse(CHANGELIST), data, HTTP_HOST="exports.example.org", secure=True)
    assert response.status_code == 302
    run(str(ExportAudit.objects.get().pk))
    file = DownloadFile.objects.get()
    [message] = smtp.messages
    link = f"https://exports.example.org{file.get_absolute_url()}"
    assert link in message.get_body().get_content()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_dataset_exports_mail_links_to_the_site_its_request_recorded(
    smtp,  # noqa: F811 - the fixture imported above
    staff,
    demo_data,
    settings,
):
    """As a Datasets-page or API export records it when it is accepted (with_site_url)."""
    settings.EXPORTS_SITE_URL = ""
    settings.ALLOWED_HOSTS = ["data.example.org"]
    request = RequestFactory().post("/", HTTP_HOST="data.example.org")
    options = with_site_url({}, request)
    audit = queue_export(staff, "user_points", "csv", options=options, delivery=Delivery.EMAIL)
    run(str(audit.audit.pk))
    file = DownloadFile.objects.get()
    assert f"http://data.example.org{file.get_absolute_url()}" in (
        smtp.messages[0].get_body().get_content()
    )


# --- the app's pages --------------------------------------------------------------------------


def test_every_page_of_the_app_extends_a_template_of_the_app_or_of_the_admin():
    templates = ROOT / "exports" / "templates"
    for path in templates.rglob("*.html"):
        parent = re.match(r'\{%\s*extends\s+"([^"]+)"', path.read_text())
        if parent:
            assert parent.group(1).startswith(("exports/", "admin/")), (path, parent.group(1))


@pytest.fixture
def loud_host_base(settings, tmp_path) -> None:
    """A host whose templates/base.html cannot render without its own tag library."""
    (tmp_path / "base.html").write_text(
        "{% load the_hosts_own_tags %}{% block content %}{% endblock %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]


@pytest.mark.django_db
def test_the_apps_pages_render_where_the_hosts_base_template_cannot(loud_host_base, client, staff):
    client.force_login(staff)
    for page in ("exports:my-downloads", "exports:api-tokens"):
        response = client.get(reverse(page))
        assert response.status_code == 200, page
        assert "My downloads" in response.content.decode()
