"""Every state change is a POST with a CSRF token; export pages are for staff with the export
permission; the audit trail cannot be changed through the admin."""

import pytest
from django.test import Client
from django.urls import reverse

from exports.jobs.accept import queue_export
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint
from tests.conftest import make_user
from tests.factories import finished_file

CHANGELIST = "admin:demo_userpoint_changelist"
DATASETS_PAGE = "admin:exports_datasetexport_changelist"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def strict(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def export_post() -> dict:
    return {
        "action": "export_rows",
        "_selected_action": [UserPoint.objects.first().pk],
        "post": "yes",
        "format": "csv",
        "delivery": "background",
        "columns": ["id"],
    }


def test_every_post_needs_a_csrf_token(staff, demo_data):
    file = finished_file(staff)
    audit = queue_export(staff, "user_points", "csv").audit
    browser = strict(staff)
    posts = {
        "delete": (file.get_delete_url(), {}),
        "cancel": (audit.get_cancel_url(), {}),
        "admin export action": (reverse(CHANGELIST), export_post()),
        "datasets page": (reverse(DATASETS_PAGE), {"dataset": "users", "format": "csv"}),
        "logout": (reverse("logout"), {}),
    }
    for what, (url, data) in posts.items():
        assert browser.post(url, data).status_code == 403, what
    assert DownloadFile.objects.filter(pk=file.pk).exists()
    assert ExportAudit.objects.get(pk=audit.pk).status == ExportStatus.QUEUED
    assert ExportAudit.objects.count() == 2, "no export was queued without a token"
    assert browser.get(reverse("exports:my-downloads")).status_code == 200, "still logged in"


def test_state_changing_urls_refuse_get(client, staff, demo_data):
    file = finished_file(staff)
    audit = queue_export(staff, "user_points", "csv").audit
    client.force_login(staff)
    for url in (file.get_delete_url(), audit.get_cancel_url(), reverse("logout")):
        assert client.get(url).status_code == 405, url
    assert DownloadFile.objects.filter(pk=file.pk).exists()
    assert ExportAudit.objects.get(pk=audit.pk).status == ExportStatus.QUEUED


def test_non_staff_reach_no_export_page_even_with_the_permission(client, demo_data):
    user = make_user("outsider", staff=False, export=True)
    client.force_login(user)
    for response in (
        client.get(reverse(DATASETS_PAGE)),
        client.post(reverse(DATASETS_PAGE), {"dataset": "users", "format": "csv"}),
        client.post(reverse(CHANGELIST), export_post()),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert not ExportAudit.objects.exists()


def test_staff_without_the_export_permission_get_403(client, demo_data):
    clerk = make_user("clerk", staff=True)
    client.force_login(clerk)
    assert client.get(reverse(DATASETS_PAGE)).status_code == 403
    assert client.post(reverse(DATASETS_PAGE), {"dataset": "users"}).status_code == 403
    assert not ExportAudit.objects.exists()


def test_the_audit_table_cannot_be_changed_or_deleted_through_the_admin(client, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    root = make_user("root", staff=True)
    root.is_superuser = True
    root.save()
    client.force_login(root)
    change = reverse("admin:exports_exportaudit_change", args=[audit.pk])
    delete = reverse("admin:exports_exportaudit_delete", args=[audit.pk])
    assert client.post(change, {"status": "completed", "dataset": "x"}).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.post(reverse("admin:exports_exportaudit_add"), {}).status_code == 403
    client.post(
        reverse("admin:exports_exportaudit_changelist"),
        {"action": "delete_selected", "_selected_action": [audit.pk], "post": "yes"},
    )
    kept = ExportAudit.objects.get(pk=audit.pk)
    assert (kept.status, kept.dataset) == (ExportStatus.QUEUED, "user_points")
