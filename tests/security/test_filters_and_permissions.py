"""Filters cannot reach hidden fields, neither through the admin nor a crafted job; permission
is checked again when the worker runs."""

import pytest
from django.urls import reverse

from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
HIDDEN = ["user__password__startswith=pbkdf2", "owner__password__startswith=pbkdf2"]


@pytest.mark.parametrize("query", HIDDEN)
def test_the_admin_refuses_a_changelist_filter_on_a_hidden_field(client, staff, demo_data, query):
    client.force_login(staff)
    response = client.post(
        reverse("admin:demo_userpoint_changelist") + "?" + query,
        {
            "action": "export_rows",
            "select_across": "1",
            "_selected_action": [UserPoint.objects.first().pk],
            "post": "yes",
            "format": "csv",
            "delivery": "background",
            "columns": ["id"],
        },
    )
    assert response.status_code in (400, 302)
    assert not ExportAudit.objects.exists()
    staff.is_superuser = True
    staff.save()
    listing = reverse("admin:exports_downloadfile_changelist") + "?" + query
    refused = client.get(listing)  # a disallowed lookup is 400, an unknown one ?e=1
    assert refused.status_code == 400 or refused["Location"].endswith("?e=1")


@pytest.mark.parametrize(
    ("dataset", "filters"),
    [
        ("admin:demo.userpoint", {"changelist": HIDDEN[0]}),
        ("admin:auth.user", {"changelist": "password__startswith=pbkdf2"}),
        ("user_points", {"conditions": {"user__password__startswith": "pbkdf2"}}),
        ("users", {"conditions": {"password": "x"}}),
    ],
)
def test_the_worker_refuses_a_crafted_job_filtering_on_a_hidden_field(
    staff, demo_data, dataset, filters
):
    audit = ExportAudit.objects.create(
        dataset=dataset,
        format="csv",
        filters=filters,
        requested_by=staff,
        requested_by_display=staff.username,
    )
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert audit.error
    assert not DownloadFile.objects.exists()


def test_permission_revoked_after_queueing_fails_the_export(client, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    staff.user_permissions.clear()
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert "permission" in audit.error
    assert not DownloadFile.objects.exists()
    client.force_login(staff)
    status = client.get(audit.get_status_url()).json()
    assert status["status"] == "failed" and status["download_url"] is None
