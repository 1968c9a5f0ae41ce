"""Exportdesk in a host's admin: datasets from the registry, a second AdminSite with the
site-wide Export…, the request a changelist is replayed with, UUID and string primary keys,
a ModelAdmin with its own actions, a database router, any TIME_ZONE, and the defaults and
checks a fresh project relies on."""

import copy
import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.test import RequestFactory
from django.urls import reverse
from django_q.models import Task

from exports import engine
from exports.admin import ExportMixin
from exports.apps import add_progress_alias
from exports.checks import check_model_admins
from exports.datasets import Column, Dataset, UnknownDataset, get_dataset, registry
from exports.datasets.changelist import replayed_request, request_context
from exports.datasets.registry import AlreadyRegistered, DatasetRegistry
from exports.delivery.storage import PrivateFileSystemStorage, exports_storage
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import Game, UserPoint
from tests import second_site
from tests.conftest import ROOT, make_user

REPLICA = "replica"
# A read replica for the router test: another alias of the test database (TEST MIRROR),
# declared before pytest-django sets the test databases up.
if REPLICA not in django_settings.DATABASES:
    django_settings.DATABASES[REPLICA] = {
        **copy.deepcopy(django_settings.DATABASES["default"]),
        "TEST": {"MIRROR": "default"},
    }
    connections.__dict__.pop("settings", None)

transactional = pytest.mark.django_db(transaction=True, databases="__all__")


# --- datasets come from the host -------------------------------------------------------------


def test_the_exports_package_imports_nothing_from_the_demo_the_tooling_or_the_tests():
    imports = re.compile(r"^\s*(from|import)\s+(project|exportdesk_tools|tests)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "exports").rglob("*.py")
        if imports.search(path.read_text())
    ]
    assert offenders == []


def test_no_code_names_the_default_user_model_a_custom_one_replaces():
    concrete = re.compile(r"django\.contrib\.auth\.models import [^\n]*\bUser\b")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("exports", "exportdesk_tools")
        for path in (ROOT / folder).rglob("*.py")
        if concrete.search(path.read_text())
    ]
    assert offenders == []


def test_the_demo_declares_its_datasets_in_its_own_datasets_module():
    assert registry.names() == ["users", "user_points", "user_interactions", "wallet_transactions"]
    assert registry.get("user_points").columns[2].source == "user__username"
    with pytest.raises(UnknownDataset, match="Unknown dataset 'nope'"):
        get_dataset("nope")


def test_a_registry_refuses_a_second_dataset_of_the_same_name():
    mine = DatasetRegistry()
    users = registry.get("users")
    mine.register(users)
    with pytest.raises(AlreadyRegistered, match="'users' is already registered"):
        mine.register(users)
    mine.unregister("users")
    assert mine.names() == []


def test_a_dataset_declared_before_the_models_load_is_completed_when_first_used(monkeypatch):
    monkeypatch.setattr(apps, "models_ready", False)
    early = Dataset("early", "Early", "demo.Game", (Column("name", "name"),), {})
    assert early.columns[0].kind == "" and not early.completed
    monkeypatch.undo()
    mine = DatasetRegistry()
    mine.register(early)
    column = mine.get("early").columns[0]
    assert (column.heading, column.kind) == ("Name", "text")


# --- a second AdminSite with enable_export() --------------------------------------------------


@pytest.fixture
def second(settings, staff):
    """The second site's URLconf and middleware; staff may view audits and tasks too."""
    settings.ROOT_URLCONF = "tests.second_site"
    settings.ALLOWED_HOSTS = ["testserver", second_site.TENANT_HOST]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.second_site.TenantMiddleware"]
    for app_label, codename in (("exports", "view_exportaudit"), ("django_q", "view_task")):
        perm = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        staff.user_permissions.add(perm)
    return staff


def export(client, changelist: str, ids, *, columns, select_across=False, **headers):
    data = {
        "action": "export_rows",
        "_selected_action": [str(pk) for pk in ids],
        "post": "yes",
        "format": "csv",
        "delivery": "background",
        "columns": columns,
    }
    if select_across:
        data["select_across"] = "1"
    return client.post(reverse(changelist), data, headers=headers)


def run_and_read(audit: ExportAudit) -> list[list[str]]:
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    with DownloadFile.objects.get(audit=audit).open() as stored:
        return list(csv.reader(io.StringIO(stored.read().decode())))


@transactional
def test_the_site_wide_action_exports_uuid_keyed_rows_of_an_admin_with_its_own_actions(
    client, second
):
    audits = [
        ExportAudit.objects.create(dataset=f"d{n}", format="csv", requested_by_display="t")
        for n in range(3)
    ]
    client.force_login(second)
    changelist = "second:exports_exportaudit_changelist"
    page = client.get(reverse(changelist)).content.decode()
    assert 'value="export_rows"' in page and 'value="mark"' in page

    chosen = [audits[0].pk, audits[2].pk]
    options = client.post(
        reverse(changelist), {"action": "export_rows", "_selected_action": chosen}
    )
    assert "Export 2 selected rows" in options.content.decode()
    assert reverse("second:index") in options.content.decode()  # links stay on this site

    response = export(client, changelist, chosen, columns=["id", "dataset"])
    assert response.status_code == 302
    audit = ExportAudit.objects.get(dataset="admin:exports.exportaudit")
    assert audit.filters["request"]["site"] == "second"
    assert sorted(audit.filters["conditions"]["id"]) == sorted(str(pk) for pk in chosen)
    rows = run_and_read(audit)
    assert sorted(rows[1:]) == sorted([[str(a.pk), a.dataset] for a in (audits[0], audits[2])])


@transactional
def test_a_model_admin_registered_after_enable_export_exports_string_keyed_rows(client, second):
    for key in ("alpha-1", "beta/2"):
        Task.objects.create(
            id=key,
            name=f"task {key}",
            func="f",
            started="2026-01-01T00:00Z",
            stopped="2026-01-01T00:00Z",
            success=True,
        )
    client.force_login(second)
    response = export(
        client, "second:django_q_task_changelist", ["beta/2"], columns=["id", "name", "success"]
    )
    assert response.status_code == 302
    rows = run_and_read(ExportAudit.objects.get(dataset="admin:django_q.task"))
    assert rows == [["Task id", "Name", "Success"], ["beta/2", "task beta/2", "true"]]


@transactional
def test_staff_without_the_export_permission_do_not_get_the_site_wide_action(client, second):
    row = ExportAudit.objects.create(dataset="d", format="csv", requested_by_display="t")
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_exportaudit"))
    client.force_login(viewer)
    changelist = "second:exports_exportaudit_changelist"
    page = client.get(reverse(changelist)).content.decode()
    assert 'value="mark"' in page and 'value="export_rows"' not in page
    # Posting it anyway: the admin refuses an action it did not offer, and nothing is queued.
    response = export(client, changelist, [row.pk], columns=["id"])
    assert response.status_code == 302
    assert list(ExportAudit.objects.values_list("pk", flat=True)) == [row.pk]


@transactional
def test_the_worker_replays_the_changelist_with_the_requests_host_and_tenant(
    client, second, demo_data
):
    game = Game.objects.order_by("pk").first()
    expected = UserPoint.objects.filter(game=game).count()
    assert 0 < expected < UserPoint.objects.count()
    client.force_login(second)
    columns = ["id", "user_id", "game_id", "task_id", "points", "created"]
    any_row = UserPoint.objects.filter(game=game).first().pk
    headers = {"host": second_site.TENANT_HOST, "x-tenant": str(game.pk)}
    response = export(
        client,
        "second:demo_userpoint_changelist",
        [any_row],
        columns=columns,
        select_across=True,
        **headers,
    )
    assert response.status_code == 302
    audit = ExportAudit.objects.get()
    context = audit.filters["request"]
    assert context["meta"]["HTTP_HOST"] == second_site.TENANT_HOST
    assert context["attrs"] == {"tenant": {"model": "demo.Game", "pk": game.pk}}
    assert "HTTP_COOKIE" not in str(context) and "sessionid" not in str(context)
    rows = run_and_read(audit)
    assert len(rows) - 1 == expected
    assert {row[2] for row in rows[1:]} == {str(game.pk)}


def test_a_replayed_request_carries_user_host_scheme_path_get_and_attributes(staff, demo_data):
    game = Game.objects.first()
    original = RequestFactory().get(
        "/admin/demo/userpoint/?q=x", secure=True, headers={"host": "shop.example.com"}
    )
    original.tenant, original.site = game, object()  # an object JSON cannot hold is left out
    context = request_context(original, "second")
    replayed = replayed_request(context, staff, "game__id__exact=1")
    assert replayed.user == staff and replayed.tenant == game and not hasattr(replayed, "site")
    assert (replayed.scheme, replayed.path, replayed.GET["game__id__exact"]) == (
        "https",
        "/admin/demo/userpoint/",
        "1",
    )
    assert replayed.META["HTTP_HOST"] == "shop.example.com"
    assert replayed.current_app == "second"


class OwnActionsAdmin(ExportMixin, admin.ModelAdmin):
    actions = ["mark"]

    @admin.action(description="Mark")
    def mark(self, request, queryset) -> None:
        pass


def test_export_mixin_keeps_export_beside_a_model_admins_own_actions(staff):
    request = RequestFactory().get("/")
    request.user = staff
    actions = OwnActionsAdmin(UserPoint, admin.site).get_actions(request)
    assert list(actions) == ["mark", "export_rows"]


def test_check_warns_when_actions_none_removes_export_from_a_mixin_admin():
    class NoActionsAdmin(ExportMixin, admin.ModelAdmin):
        actions = None

    site = admin.AdminSite(name="no-actions")
    site.register(Game, NoActionsAdmin)
    warnings = [w for w in check_model_admins() if w.obj is NoActionsAdmin]
    assert [w.id for w in warnings] == ["exports.W003"]


# --- databases and time zones -----------------------------------------------------------------


class ReplicaRouter:
    """User points are read from the replica; everything else from the default database."""

    def db_for_read(self, model, **hints):
        return REPLICA if model is UserPoint else None


@pytest.fixture
def replica(settings):
    """The replica sees its own demo_userpoint (a schema ahead of public on its search_path),
    so rows read from the wrong database would show."""
    settings.DATABASE_ROUTERS = ["tests.test_hosts.ReplicaRouter"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA replica")
        cursor.execute("CREATE TABLE replica.demo_userpoint (LIKE public.demo_userpoint)")
        cursor.execute(
            "INSERT INTO replica.demo_userpoint SELECT * FROM public.demo_userpoint "
            "ORDER BY id LIMIT 7"
        )
    wrapper = connections[REPLICA]
    original = wrapper.settings_dict
    wrapper.close()
    options = {**original["OPTIONS"], "options": "-c search_path=replica,public"}
    wrapper.settings_dict = {**original, "OPTIONS": options}
    yield
    wrapper.close()
    wrapper.settings_dict = original
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA replica CASCADE")


@transactional
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])  # COPY fast path, typed COPY rows
def test_an_export_reads_from_the_database_the_router_names(staff, demo_data, replica, fmt):
    assert UserPoint.objects.count() == 7 and UserPoint.objects.using("default").count() > 7
    audit = queue_export(staff, "user_points", fmt).audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert (audit.rows_expected, audit.row_count) == (7, 7)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_files_hold_the_same_instants_in_any_time_zone(settings, demo_data, fmt):
    """USE_TZ=True in any TIME_ZONE: times are written in the site's zone, with its offset,
    and are the very same instants."""

    def created() -> list[datetime]:
        out = io.BytesIO()
        engine.export(out, get_dataset("user_points"), fmt, {"limit": 100})
        text = out.getvalue().decode()
        if fmt == "json":
            values = [row["created"] for row in json.loads(text)]
        else:
            values = [row["Created"] for row in csv.DictReader(io.StringIO(text))]
        return [datetime.fromisoformat(v) for v in values]

    settings.TIME_ZONE = "UTC"
    in_utc = created()
    settings.TIME_ZONE = "Pacific/Chatham"  # +12:45 / +13:45
    in_chatham = created()
    assert in_chatham == in_utc and len(in_utc) == 100
    assert {t.utcoffset() for t in in_utc} == {timedelta(0)}
    assert {t.utcoffset() for t in in_chatham} <= {
        timedelta(hours=12, minutes=45),
        timedelta(hours=13, minutes=45),
    }


# --- defaults a fresh project relies on ------------------------------------------------------


def test_the_progress_connection_is_added_when_the_project_declares_none(settings):
    declared = settings.DATABASES.pop("progress")
    try:
        add_progress_alias()
        added = settings.DATABASES["progress"]
        assert added["NAME"] == settings.DATABASES["default"]["NAME"]
        assert added["TEST"]["MIRROR"] == "default"
        assert "progress" in connections
    finally:
        settings.DATABASES["progress"] = declared
        connections.__dict__.pop("settings", None)


def test_without_an_exports_storage_files_go_to_a_private_folder(settings, tmp_path):
    settings.STORAGES = {k: v for k, v in settings.STORAGES.items() if k != "exports"}
    settings.EXPORTS_ROOT = tmp_path / "private"
    storage = exports_storage()
    assert isinstance(storage, PrivateFileSystemStorage)
    name = storage.save("exports/a/b.csv", io.BytesIO(b"x"))
    path = Path(storage.path(name))
    assert path.is_relative_to(tmp_path / "private")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    with pytest.raises(ValueError, match="no public URL"):
        storage.url(name)


def check_incomplete_project(**env: str) -> tuple[int, str]:
    """`manage.py check` in a fresh process on tests/incomplete_settings.py."""
    done = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings", "tests.incomplete_settings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    return done.returncode, done.stderr + done.stdout


def test_check_says_what_an_incomplete_project_must_add():
    returncode, report = check_incomplete_project()
    assert returncode == 1, report
    for expected in [
        "(exports.E010) Exportdesk runs exports on django-q2, which is not installed",
        'Add "django_q" to INSTALLED_APPS',
        "(exports.E011) Q_CLUSTER is not set",
        "(exports.E013) DATABASES['progress'] must be a second connection",
        "(exports.E014) EXPORTS_STORAGE is 'nope'",
        "(exports.E016) Exportdesk's templates are not found",
        "(exports.W001) Exportdesk does not know these settings and ignores them: "
        "EXPORTS_FILE_LIFETIMES",
        "(exports.W002) Exportdesk's pages (My downloads) are not in the URLconf",
        'path("downloads/", include("exports.urls"))',
    ]:
        assert expected in report, report


def test_check_refuses_a_private_folder_the_web_server_serves(tmp_path):
    _, report = check_incomplete_project(INCOMPLETE_MEDIA_EXPORTS=str(tmp_path))
    assert "(exports.E015) Exported files would be kept under MEDIA_ROOT" in report
