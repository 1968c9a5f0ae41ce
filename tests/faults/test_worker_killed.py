"""A worker SIGKILLed mid-export: the sweeper notices the silence and the next attempt finishes
the export, once, with one file; nothing is left running."""

import pytest

from exports.jobs.accept import queue_export
from exports.jobs.sweeper import sweep
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.seed import top_up
from tests.conftest import wait_for
from tests.faults.conftest import kill_tree

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
FAST_BEAT = {"EXPORTS_HEARTBEAT_SECONDS": "1", "EXPORTS_STALE_SECONDS": "3"}


def test_a_killed_worker_is_retried_to_exactly_one_file(
    staff, start_cluster, exports_root, settings
):
    settings.EXPORTS_STALE_SECONDS, settings.EXPORTS_MAX_ATTEMPTS = 3, 2
    top_up(20_000)
    first = start_cluster("first.log", **FAST_BEAT)
    audit = queue_export(staff, "user_points", "xlsx").audit
    wait_for(
        lambda: ExportAudit.objects.get(pk=audit.pk).row_count > 0,
        timeout=60,
        what="the export to be mid-way",
    )
    assert kill_tree(first), "the cluster had worker processes"
    midway = ExportAudit.objects.get(pk=audit.pk)
    assert midway.status == ExportStatus.RUNNING and midway.row_count < 20_000

    swept = wait_for(lambda: sweep().requeued, timeout=30, what="the sweeper to requeue")
    assert swept == [str(audit.pk)]
    start_cluster("second.log", **FAST_BEAT)
    done = wait_for(
        lambda: (
            ExportAudit.objects.filter(pk=audit.pk)
            .exclude(status__in=["queued", "running"])
            .first()
        ),
        timeout=90,
        what="the second attempt to finish",
    )
    assert done.status == ExportStatus.COMPLETED, done.error
    assert done.attempts == 2 and done.row_count == 20_000 and done.reserved_bytes == 0
    assert DownloadFile.objects.filter(audit=audit).count() == 1
    files = [p for p in exports_root.rglob("*") if p.is_file()]
    assert [p.relative_to(exports_root).as_posix() for p in files] == [
        DownloadFile.objects.get(audit=audit).stored_name
    ]


def test_a_killed_worker_out_of_attempts_ends_failed_with_a_reason(staff, start_cluster, settings):
    settings.EXPORTS_STALE_SECONDS, settings.EXPORTS_MAX_ATTEMPTS = 3, 1
    top_up(20_000)
    cluster = start_cluster(**FAST_BEAT)
    audit = queue_export(staff, "user_points", "xlsx").audit
    wait_for(
        lambda: ExportAudit.objects.get(pk=audit.pk).row_count > 0,
        timeout=60,
        what="the export to be mid-way",
    )
    kill_tree(cluster)
    assert wait_for(lambda: sweep().failed, timeout=30, what="the sweeper") == [str(audit.pk)]
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert "stopped responding" in audit.error
    assert not DownloadFile.objects.exists()
