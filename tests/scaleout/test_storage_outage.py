"""An object store that is down when a finished export saves its file (found by the chaos run:
every export that finished during a few seconds of SeaweedFS downtime failed). The worker now
waits for it, up to EXPORTS_OUTAGE_SECONDS, and publishes exactly once; longer than that,
the export fails with a reason a person can act on."""

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from exportdesk_tools.servers import SeaweedFS
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportStatus
from tests.scaleout.conftest import settings_from_env

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
BUCKET = "outage"


@pytest.fixture
def own_seaweedfs(tmp_path: Path, settings) -> Iterator[SeaweedFS]:
    """A SeaweedFS of this test's own, which it may stop and start; the exports storage."""
    (tmp_path / "s3").mkdir()
    server = SeaweedFS(tmp_path / "s3")
    server.start()
    try:
        server.client().create_bucket(Bucket=BUCKET)
        built = settings_from_env(server.env(BUCKET))
        settings.STORAGES = {**settings.STORAGES, "exports": built["STORAGES"]["exports"]}
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp_path / "s3", ignore_errors=True)


def test_an_export_waits_for_an_object_store_that_comes_back(
    staff, demo_data, own_seaweedfs, settings
):
    settings.EXPORTS_OUTAGE_SECONDS = 60
    audit = queue_export(staff, "user_points", "csv").audit
    own_seaweedfs.stop()
    back = threading.Timer(2.0, own_seaweedfs.start)
    back.start()
    try:
        run(str(audit.pk))
    finally:
        back.join()
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert audit.attempts == 1 and audit.reserved_bytes == 0
    file = DownloadFile.objects.get(audit=audit)
    assert own_seaweedfs.keys(BUCKET) == [file.stored_name]


def test_an_object_store_down_for_longer_fails_the_export_with_a_reason(
    staff, demo_data, own_seaweedfs, settings
):
    settings.EXPORTS_OUTAGE_SECONDS = 2
    audit = queue_export(staff, "user_points", "csv").audit
    own_seaweedfs.stop()
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert audit.error.startswith("The file storage could not be reached for 2 s")
    assert audit.error.endswith("Try the export again later.")
    assert audit.reserved_bytes == 0 and not DownloadFile.objects.exists()
    own_seaweedfs.start()
    assert own_seaweedfs.keys(BUCKET) == []
