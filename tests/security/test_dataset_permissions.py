"""A declared dataset is exported only by someone who may view every model it reads (or holds
the permissions it declares); the Datasets page, the accept path and the worker all ask the
same question. The Datasets admin shows no audit row."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from exports.datasets.base import Column, Dataset, get_dataset
from exports.datasets.changelist import can_export, exportable_datasets
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from tests.conftest import make_user

PAGE = "admin:exports_datasetexport_changelist"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def grant(user, *codenames: str):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # a fresh permission cache


def test_by_default_a_dataset_needs_view_permission_on_every_model_it_reads():
    assert get_dataset("users").required_permissions() == ("auth.view_user",)
    assert get_dataset("wallet_transactions").required_permissions() == (
        "auth.view_user",
        "demo.view_wallettransaction",
    )
    joined_by_a_filter = Dataset(
        name="tasks",
        title="Tasks",
        model_label="demo.Task",
        columns=(Column("name", "name"),),
        filters={"game": "game__name"},
    )
    assert joined_by_a_filter.required_permissions() == ("demo.view_game", "demo.view_task")


def test_a_dataset_may_declare_its_permissions():
    assert get_dataset("user_points").required_permissions() == ("demo.view_userpoint",)


def test_exportable_datasets_are_those_the_user_may_export(staff):
    assert [d.name for d in exportable_datasets(staff)] == ["user_points"]
    viewer = grant(make_user("viewer", staff=True, export=True), "view_user")
    assert [d.name for d in exportable_datasets(viewer)] == ["users", "user_points"]
    assert exportable_datasets(grant(make_user("clerk", staff=True), "export_data")) == []
    assert exportable_datasets(make_user("nobody", staff=True)) == []
    root = make_user("root", staff=True)
    root.is_superuser = True
    assert len(exportable_datasets(root)) == 4


def test_can_export_answers_no_for_a_missing_permission_or_an_unknown_name(staff):
    assert can_export(staff, "user_points")
    assert not can_export(staff, "users")
    assert not can_export(staff, "no_such_dataset")
    assert not can_export(None, "user_points")


def test_a_changelist_using_a_declared_dataset_needs_its_permissions_too(db):
    clerk = make_user("clerk", staff=True, export=True)
    clerk = grant(clerk, "view_wallettransaction")
    assert not can_export(clerk, "admin:demo.wallettransaction"), "its columns read auth.User"
    assert can_export(grant(clerk, "view_user"), "admin:demo.wallettransaction")


def test_the_datasets_page_lists_only_what_the_user_may_export(client, staff):
    client.force_login(staff)
    page = client.get(reverse(PAGE)).content.decode()
    assert "User points" in page
    for hidden in ["Wallet transactions", "User interactions", 'value="users"']:
        assert hidden not in page


def test_the_datasets_page_says_so_when_nothing_is_exportable(client, db):
    client.force_login(grant(make_user("clerk", staff=True), "export_data"))
    page = client.get(reverse(PAGE)).content.decode()
    assert "You may not export any dataset" in page


@pytest.mark.parametrize("delivery", ["immediate", "background", "email"])
def test_posting_a_dataset_the_user_may_not_export_is_403(client, staff, demo_data, delivery):
    client.force_login(staff)
    response = client.post(
        reverse(PAGE), {"dataset": "users", "format": "csv", "delivery": delivery}
    )
    assert response.status_code == 403
    assert b"staffer@example.com" not in response.content
    assert not ExportAudit.objects.exists()


def test_the_same_user_exports_user_points_from_the_page(client, staff, demo_data):
    client.force_login(staff)
    response = client.post(
        reverse(PAGE), {"dataset": "user_points", "format": "csv", "delivery": "immediate"}
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"ID,")


def test_the_worker_refuses_a_dataset_the_requester_may_not_export(staff, demo_data):
    audit = ExportAudit.objects.create(
        dataset="users",
        format="csv",
        requested_by=staff,
        requested_by_display=staff.username,
    )
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert "auth.view_user" in audit.error
    assert not DownloadFile.objects.exists()


def test_the_datasets_admin_shows_no_audit_row(client, staff, demo_data):
    other = make_user("other", staff=True, export=True)
    audit = ExportAudit.objects.create(
        dataset="users",
        format="csv",
        requested_by=other,
        requested_by_display="other",
        error="secret detail",
    )
    client.force_login(staff)
    for view in ["change", "history", "delete"]:
        url = f"/admin/exports/datasetexport/{audit.pk}/{view}/"
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert b"secret detail" not in response.content
    assert client.get("/admin/exports/datasetexport/add/").status_code in (403, 404)
    assert client.get(reverse(PAGE)).status_code == 200
