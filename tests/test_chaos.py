"""`export_load --chaos`: a small seeded run on the default configuration (ORM broker, local
disk, one qcluster) with one fault of each kind, a shorter one on Celery and on django.tasks
(`--queue`), and the tools that judge them: the fault plan, the read-back of every format, and
a ledger that does notice what it must count."""

import json
import os
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from exportdesk_tools import ledger
from exportdesk_tools.faults import DEFAULT_KINDS, SCALEOUT_KINDS, plan
from exportdesk_tools.readback import READERS, Unreadable, count_rows
from exports import engine
from exports.datasets.base import get_dataset
from exports.delivery.storage import exports_storage
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus


def chaos_report(*args: str) -> dict:
    out = StringIO()
    call_command("export_load", "user_points", "--chaos", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def assert_targets_met(report: dict, kinds: tuple[str, ...], exports: int) -> None:
    """The figures the README promises, whatever the faults did."""
    injected = [f["kind"] for f in report["faults"] if not f["detail"].startswith("not")]
    assert sorted(injected) == sorted(kinds), report["faults"]
    assert report["requested"] >= exports
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["orphans"] == 0
    assert report["dangling"] == 0
    assert report["leaked_quota_bytes"] == 0
    assert report["unreadable"] == 0, report["unreadable_files"]
    assert report["failed_without_reason"] == 0, report["failed_by_reason"]
    assert report["completed"] >= 0.95 * report["requested"], report["failed_by_reason"]
    assert report["files_read"] > 0
    # Never twice, and at most one lost: a qcluster killed between publishing a file and
    # mailing its link loses the mail, not the file (at most once; the README says so).
    assert report["emails_sent"] + report["emails_missing"] == report["emails_expected"]
    assert report["emails_expected"] > 0 and report["emails_missing"] <= 1
    assert report["p50_seconds"] <= report["p95_seconds"]


def test_a_seeded_chaos_run_loses_nothing_and_keeps_every_file_whole():
    report = chaos_report("--exports", "60", "--users", "12", "--seed", "7")
    assert report["config"] == "default" and report["qclusters"] == 1
    assert_targets_met(report, DEFAULT_KINDS, 60)
    assert report["qclusters_started"] >= 2  # the one killed was started again


@pytest.mark.parametrize("queue", ["celery", "tasks"])
def test_a_short_chaos_run_on_celery_or_django_tasks_loses_nothing(queue):
    """The same faults on the other queues: a celery worker's pool child or a db_worker killed
    mid-export, a whole celery worker or db_worker killed, PostgreSQL restarted."""
    report = chaos_report("--queue", queue, "--exports", "30", "--users", "8", "--seed", "7")
    assert report["queue"] == queue
    assert_targets_met(report, DEFAULT_KINDS, 30)
    assert report["qclusters_started"] > report["qclusters"]  # the one killed was started again
    assert report["clocks_started"] >= 1  # celery beat / exports_clock ran beside them


def test_the_same_seed_plans_the_same_faults():
    first, again = plan(7, SCALEOUT_KINDS, 2), plan(7, SCALEOUT_KINDS, 2)
    assert first == again
    assert first != plan(8, SCALEOUT_KINDS, 2)
    assert sorted(f.kind for f in first) == sorted(SCALEOUT_KINDS * 2)
    assert all(0.05 <= f.at <= 0.85 for f in first)
    assert [f.at for f in first] == sorted(f.at for f in first)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", sorted(READERS))
def test_every_readable_format_reads_back_its_row_count(fmt, demo_data, tmp_path: Path):
    path = tmp_path / f"export.{fmt}"
    with open(path, "wb") as out:
        result = engine.export(out, get_dataset("user_points"), fmt, {"limit": 123})
    assert result.rows == 123
    assert count_rows(fmt, path) == 123


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["xlsx", "ods", "tsvzip", "sqlite", "json"])
def test_a_file_cut_short_is_unreadable(fmt, demo_data, tmp_path: Path):
    path = tmp_path / f"export.{fmt}"
    with open(path, "wb") as out:
        engine.export(out, get_dataset("user_points"), fmt, {"limit": 200})
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(Unreadable):
        count_rows(fmt, path)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_ledger_counts_orphans_dangling_rows_leaked_quota_and_bad_files(
    staff, demo_data, exports_root: Path
):
    done = [queue_export(staff, "user_points", "csv", {"limit": n}).audit for n in (10, 20, 30)]
    for audit in done:
        run(str(audit.pk))
    files = {f.audit_id: f for f in DownloadFile.objects.all()}
    # One object gone from under its row, one file with rows missing, one object nobody owns.
    exports_storage().delete(files[done[0].pk].stored_name)
    ExportAudit.objects.filter(pk=done[1].pk).update(row_count=21)
    orphan = exports_root / "exports" / "stray" / "left.csv"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("a\n")
    old = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(orphan, (old, old))
    ExportAudit.objects.create(
        dataset="user_points", format="csv", requested_by=staff, requested_by_display="x",
        status=ExportStatus.FAILED, error="Worker vanished; try again.", reserved_bytes=4096,
    )  # fmt: skip
    ExportAudit.objects.create(
        dataset="user_points", format="csv", requested_by=staff, requested_by_display="x"
    )

    figures = ledger.check(grace=timedelta(hours=1))
    assert (figures.requested, figures.completed, figures.failed) == (5, 3, 1)
    assert figures.lost == 1
    assert figures.dangling == 1 and figures.orphans == 1
    assert figures.leaked_quota_bytes == 4096
    assert figures.files_read == 2
    assert figures.unreadable == 1
    assert figures.unreadable_files == [f"{done[1].pk} csv: 20 rows, the audit row says 21"]
    assert figures.failed_by_reason == {"Worker vanished; try again.": 1}
    assert figures.failed_without_reason == 0
