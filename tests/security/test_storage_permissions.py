"""Exported files and their folders are readable by their owner (the service) only."""

import stat

import pytest

from exports.jobs.accept import queue_export
from exports.jobs.runner import run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_stored_files_are_0600_in_0700_folders(staff, demo_data, exports_root):
    for fmt in ("csv", "xlsx"):
        run(str(queue_export(staff, "user_points", fmt).audit.pk))
    paths = [exports_root, *exports_root.rglob("*")]
    assert sum(p.is_file() for p in paths) == 2
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if path.is_file() else 0o700), (path, oct(mode))
