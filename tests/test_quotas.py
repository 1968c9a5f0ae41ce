"""Per-user storage quota (reserved at start, enforced while writing, released at the end) and
the per-user download rate limit."""

import os
import tempfile
import threading
from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse

from exports.jobs import runner
from exports.jobs.accept import ExportRefused, queue_export
from exports.jobs.quotas import MIB, QuotaExceeded, Reservation
from exports.jobs.runner import run
from exports.models import DownloadCounter, DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint
from project.demo.seed import top_up
from tests.conftest import make_user
from tests.factories import finished_file

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.sqlite_lane]


def csv_size(staff) -> int:
    """The size of the 300-row CSV the tests export, measured with no quota."""
    audit = queue_export(staff, "user_points", "csv", {"limit": 299}).audit
    run(str(audit.pk))
    file = DownloadFile.objects.get(audit=audit)
    file.delete()
    return file.size


def running(user) -> ExportAudit:
    return ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by=user,
        requested_by_display=user.username,
        status=ExportStatus.RUNNING,
        attempts=1,
    )


def test_an_export_larger_than_the_quota_fails_and_releases_it(staff, demo_data, settings):
    settings.EXPORTS_USER_QUOTA_MB = 10_000 / MIB
    settings.EXPORTS_QUOTA_STEP_MB = 0
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert audit.error.startswith("Storage quota exceeded")
    assert audit.reserved_bytes == 0
    assert not DownloadFile.objects.exists()


def test_two_reservations_cannot_overshoot_the_quota_together(staff, settings):
    settings.EXPORTS_USER_QUOTA_MB, settings.EXPORTS_QUOTA_STEP_MB = 1, 0
    first, second = running(staff), running(staff)
    a = Reservation(first.pk, staff.pk, 1)
    b = Reservation(second.pk, staff.pk, 1)
    a.need(700_000)
    with pytest.raises(QuotaExceeded, match="quota"):
        b.need(400_000)
    b.need(300_000)
    assert ExportAudit.objects.get(pk=first.pk).reserved_bytes == 700_000
    ExportAudit.objects.filter(pk=first.pk).update(status=ExportStatus.FAILED, reserved_bytes=0)
    b.need(1_000_000)


def test_concurrent_exports_never_store_more_than_the_quota(staff, demo_data, settings):
    size = csv_size(staff)
    settings.EXPORTS_USER_QUOTA_MB = size * 1.5 / MIB
    settings.EXPORTS_QUOTA_STEP_MB = 0
    audits = [
        queue_export(staff, "user_points", "csv", {"limit": 299}).audit,
        queue_export(staff, "user_points", "csv", {"limit": 298 + 1, "conditions": {}}).audit,
    ]

    def work(pk):
        try:
            run(str(pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a.pk,)) for a in audits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(
        ExportAudit.objects.filter(pk__in=[a.pk for a in audits]).values_list("status", "error")
    )
    assert [s for s, _ in statuses] == [ExportStatus.COMPLETED, ExportStatus.FAILED]
    assert statuses[1][1].startswith("Storage quota exceeded")
    assert sum(DownloadFile.objects.values_list("size", flat=True)) <= size * 1.5
    assert not ExportAudit.objects.exclude(reserved_bytes=0).exists()


def files_under(directory: Path) -> dict[str, int]:
    return {
        os.path.relpath(os.path.join(root, name), directory): os.path.getsize(
            os.path.join(root, name)
        )
        for root, _, names in os.walk(directory)
        for name in names
    }


@pytest.fixture
def watched_sqlite_export(staff, settings, tmp_path, monkeypatch):
    """Runs a 100,000-row SQLite export with EXPORTS_TMP_DIR and the system temp dir apart, and
    records (rows, files under EXPORTS_TMP_DIR, files in the system temp dir) at each report."""
    top_up(100_000)
    scratch, system = tmp_path / "exports-tmp", tmp_path / "system-tmp"
    scratch.mkdir()
    system.mkdir()
    settings.EXPORTS_TMP_DIR = str(scratch)
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    seen: list[tuple[int, dict[str, int], dict[str, int]]] = []
    reporter = runner.progress_reporter

    def watched(*args, **kwargs):
        report = reporter(*args, **kwargs)

        def watch(rows: int) -> None:
            seen.append((rows, files_under(scratch), files_under(system)))
            report(rows)

        return watch

    monkeypatch.setattr(runner, "progress_reporter", watched)

    def export() -> ExportAudit:
        audit = queue_export(staff, "user_points", "sqlite").audit
        run(str(audit.pk))
        audit.refresh_from_db()
        assert files_under(scratch) == files_under(system) == {}  # nothing left behind
        return audit

    return export, seen


def test_an_sqlite_export_builds_its_database_under_the_tmp_dir(watched_sqlite_export):
    export, seen = watched_sqlite_export
    assert export().status == ExportStatus.COMPLETED
    assert len(seen) >= 8
    assert all(system == {} for _, _, system in seen)
    assert max(sum(files.values()) for _, files, _ in seen) > MIB


def test_an_sqlite_database_past_the_quota_stops_the_export_while_it_is_written(
    watched_sqlite_export, settings
):
    settings.EXPORTS_USER_QUOTA_MB, settings.EXPORTS_QUOTA_STEP_MB = 1, 0
    export, seen = watched_sqlite_export
    audit = export()
    assert audit.status == ExportStatus.FAILED
    assert audit.error.startswith("Storage quota exceeded")
    assert audit.row_count == seen[-1][0] < UserPoint.objects.count()
    assert audit.reserved_bytes == 0


def test_a_user_at_the_quota_cannot_queue_and_is_told_why(client, staff, demo_data, settings):
    settings.EXPORTS_USER_QUOTA_MB = 1000 / MIB
    finished_file(staff, body=b"x" * 1000)
    with pytest.raises(ExportRefused, match="Storage quota exceeded"):
        queue_export(staff, "user_points", "csv")
    client.force_login(staff)
    page = client.post(
        reverse("admin:exports_datasetexport_changelist"),
        {"dataset": "user_points", "format": "csv", "delivery": "background"},
        follow=True,
    )
    assert "Storage quota exceeded" in page.content.decode()
    assert ExportAudit.objects.filter(status=ExportStatus.QUEUED).count() == 0


def test_downloads_past_the_rate_limit_get_429_per_user(client, settings):
    settings.EXPORTS_DOWNLOADS_PER_MINUTE = 3
    alice, bob = make_user("alice"), make_user("bob")
    file = finished_file(alice)
    client.force_login(alice)
    assert [client.get(file.get_absolute_url()).status_code for _ in range(3)] == [200] * 3
    limited = client.get(file.get_absolute_url())
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many downloads" in limited.content.decode()
    assert "no-store" in limited["Cache-Control"]
    # counted in the database: every process sees it
    assert DownloadCounter.objects.get(user=alice).count == 4
    client.force_login(bob)
    assert client.get(finished_file(bob).get_absolute_url()).status_code == 200
