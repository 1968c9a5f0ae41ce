"""Status for scripts and the page, progress while running, and cancelling."""

import pytest
from django.urls import reverse

from exports.jobs.accept import queue_export, start_immediate
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.seed import top_up
from tests.conftest import wait_for
from tests.factories import finished_file

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_status_endpoint_reports_a_finished_export_to_its_owner(client, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    client.force_login(staff)
    assert client.get(audit.get_status_url()).json()["status"] == "queued"
    run(str(audit.pk))
    status = client.get(audit.get_status_url()).json()
    file = DownloadFile.objects.get()
    assert status["status"] == "completed"
    assert status["rows_written"] == status["rows_expected"] == 300
    assert status["percent"] == 100
    assert status["download_url"] == file.get_absolute_url()


def test_the_status_endpoint_is_owner_only(client, staff, bob, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    client.force_login(bob)
    assert client.get(audit.get_status_url()).status_code == 404
    assert client.get(reverse("exports:pending-status")).json() == {"pending": []}


def test_my_downloads_shows_pending_exports_with_a_cancel_form(client, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    finished_file(staff)
    client.force_login(staff)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert f'data-export="{audit.pk}"' in page and audit.get_cancel_url() in page
    assert "Queued" in page and "<progress" in page
    pending = client.get(reverse("exports:pending-status")).json()["pending"]
    assert [p["id"] for p in pending] == [str(audit.pk)]


def test_a_queued_export_cancelled_by_its_owner_never_runs(client, staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    client.force_login(staff)
    response = client.post(audit.get_cancel_url(), follow=True)
    assert "Cancelled the User points export." in response.content.decode()
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.CANCELLED
    assert not DownloadFile.objects.exists()


def test_cancel_is_owner_only_and_post_only(client, staff, bob, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    client.force_login(bob)
    assert client.post(audit.get_cancel_url()).status_code == 404
    client.force_login(staff)
    assert client.get(audit.get_cancel_url()).status_code == 405
    assert ExportAudit.objects.get(pk=audit.pk).status == ExportStatus.QUEUED


def test_a_running_export_stops_between_chunks_when_cancelled(
    client, staff, qcluster, exports_root
):
    top_up(60_000)
    audit = queue_export(staff, "user_points", "xlsx").audit
    wait_for(
        lambda: ExportAudit.objects.get(pk=audit.pk).row_count > 0,
        timeout=120,
        what="the worker to report progress",
    )
    running = ExportAudit.objects.get(pk=audit.pk)
    assert running.status == ExportStatus.RUNNING
    assert 0 < running.row_count < running.rows_expected == 60_000
    client.force_login(staff)
    client.post(audit.get_cancel_url())
    wait_for(
        lambda: (
            ExportAudit.objects.get(pk=audit.pk).heartbeat_at is not None
            and "cancelled" in (exports_root.parent / "qcluster.log").read_text()
        ),
        timeout=60,
        what="the worker to notice the cancel",
    )
    audit.refresh_from_db()
    assert audit.status == ExportStatus.CANCELLED
    assert audit.row_count < 60_000
    assert not DownloadFile.objects.exists()
    assert not list(exports_root.rglob("*.xlsx"))


def test_an_immediate_download_offers_no_cancel(client, staff, demo_data):
    audit, _ = start_immediate(staff, "user_points", "csv", {}, {})
    client.force_login(staff)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert f'data-export="{audit.pk}"' in page
    assert audit.get_cancel_url() not in page
    [pending] = client.get(reverse("exports:pending-status")).json()["pending"]
    assert pending["cancellable"] is False
    assert client.get(audit.get_status_url()).json()["cancellable"] is False
