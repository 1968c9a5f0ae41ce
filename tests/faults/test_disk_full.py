"""The disk filling mid-export, on a real 1 MiB tmpfs: the export fails saying so, nothing
truncated is left under the final name, and the quota it held is released."""

from pathlib import Path

import pytest

from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportStatus
from project.demo.seed import top_up

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def export_too_big_for(staff) -> str:
    top_up(25_000)  # about 2 MB of CSV
    return str(queue_export(staff, "user_points", "csv").audit.pk)


def assert_failed_for_space(audit_id: str) -> None:
    from exports.models import ExportAudit

    audit = ExportAudit.objects.get(pk=audit_id)
    assert audit.status == ExportStatus.FAILED
    assert "no space" in audit.error.lower()
    assert audit.reserved_bytes == 0
    assert not DownloadFile.objects.exists()


def test_a_full_temporary_disk_fails_the_export(staff, settings, tiny_disk, exports_root):
    settings.EXPORTS_TMP_DIR = str(tiny_disk)
    audit_id = export_too_big_for(staff)
    run(audit_id)
    assert_failed_for_space(audit_id)
    assert files_under(exports_root) == []
    assert list(tiny_disk.iterdir()) == [], "the temporary file went with the export"


def test_a_full_storage_disk_leaves_no_truncated_file(staff, settings, tiny_disk):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tiny_disk), "base_url": None},
        },
    }
    audit_id = export_too_big_for(staff)
    run(audit_id)
    assert_failed_for_space(audit_id)
    assert files_under(tiny_disk) == [], "no partial object under the final name"
