"""The worker's half of an export, run in-process (the queue is beside the point here)."""

from pathlib import Path

import pytest

from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint

# The runner reports progress on a second connection, as in production: commit for real.
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_finished_export_has_its_counts_and_one_file(staff, demo_data, exports_root: Path):
    game = UserPoint.objects.order_by("pk").first().game_id  # ids move on between tests
    audit = queue_export(staff, "user_points", "csv", {"conditions": {"game": game}}).audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    assert audit.row_count == UserPoint.objects.filter(game=game).count() > 0
    assert audit.started_at and audit.finished_at and audit.started_at <= audit.finished_at
    file = DownloadFile.objects.get(audit=audit)
    stored = exports_root / file.stored_name
    assert stored.stat().st_size == file.size == audit.bytes
    assert stored.stat().st_mode & 0o777 == 0o600
    assert file.filename.startswith("user_points_") and file.filename.endswith("Z.csv")


def test_a_second_delivery_of_the_same_job_does_nothing(staff, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    run(str(audit.pk))
    assert DownloadFile.objects.filter(audit=audit).count() == 1


def test_unwritable_storage_fails_the_export_with_its_reason_and_no_file(
    staff, demo_data, settings, tmp_path: Path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker)},
        },
    }
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert "not-a-directory" in audit.error
    assert audit.finished_at is not None
    assert not DownloadFile.objects.exists()
    assert blocker.read_text().startswith("a file")


def test_a_dataset_that_vanished_fails_cleanly(staff):
    audit = ExportAudit.objects.create(
        dataset="no_such_dataset",
        format="csv",
        requested_by=staff,
        requested_by_display="staffer",
    )
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert audit.error == "Unknown dataset 'no_such_dataset'."
