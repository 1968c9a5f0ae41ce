"""Purge: the command, the schedule and the admin action all remove expired files only."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.urls import reverse
from django_q.models import Schedule

from exports.delivery.purge import purge_expired
from exports.delivery.storage import exports_storage
from exports.jobs.schedules import PURGE_SCHEDULE, ensure_schedules
from exports.models import DownloadFile, ExportAudit
from tests.factories import finished_file


def test_purge_removes_expired_files_and_keeps_live_ones(alice, django_capture_on_commit_callbacks):
    old = finished_file(alice, expires_in=timedelta(seconds=-1))
    live = finished_file(alice)
    with django_capture_on_commit_callbacks(execute=True):
        removed = purge_expired()
    assert removed == [old.stored_name]
    assert not exports_storage().exists(old.stored_name)
    assert list(DownloadFile.objects.all()) == [live]
    assert exports_storage().exists(live.stored_name)
    assert ExportAudit.objects.filter(pk=old.audit_id).exists(), "the audit row outlives the file"


def test_purge_command_dry_run_deletes_nothing(alice):
    old = finished_file(alice, expires_in=timedelta(seconds=-1))
    out = StringIO()
    call_command("purge_downloads", "--dry-run", stdout=out)
    assert f"Would remove {old.stored_name}" in out.getvalue()
    assert DownloadFile.objects.filter(pk=old.pk).exists()
    assert exports_storage().exists(old.stored_name)


def test_purge_command_prints_what_it_removed(alice, django_capture_on_commit_callbacks):
    old = finished_file(alice, expires_in=timedelta(seconds=-1))
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_downloads", stdout=out)
    assert f"Removed {old.stored_name}" in out.getvalue()
    assert "Removed 1 expired download(s), 0 orphan(s)." in out.getvalue()
    assert not DownloadFile.objects.exists()


def test_migrate_creates_one_purge_schedule_every_fifteen_minutes(db):
    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=PURGE_SCHEDULE)
    assert schedule.func == "exports.delivery.purge.purge_task"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 15)


def test_admin_action_purges_expired_downloads(
    admin_client, alice, django_capture_on_commit_callbacks
):
    finished_file(alice, expires_in=timedelta(seconds=-1))
    live = finished_file(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:exports_downloadfile_changelist"),
            {"action": "purge_expired_downloads", "_selected_action": [live.pk]},
            follow=True,
        )
    assert "Purged 1 expired download." in response.content.decode()
    assert list(DownloadFile.objects.all()) == [live]


def test_the_schedule_runs_the_same_purge(alice, monkeypatch, django_capture_on_commit_callbacks):
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.scheduler import scheduler

    old = finished_file(alice, expires_in=timedelta(seconds=-1))
    ensure_schedules()
    Schedule.objects.filter(name=PURGE_SCHEDULE).update(next_run="2000-01-01T00:00:00Z")
    monkeypatch.setattr(Conf, "SYNC", True)  # run the scheduled task in-process
    with django_capture_on_commit_callbacks(execute=True):
        scheduler(broker=get_broker())
    assert not DownloadFile.objects.filter(pk=old.pk).exists()


def test_purge_command_dry_run_lists_orphans_and_keeps_them(alice, exports_root, settings):
    settings.EXPORTS_ORPHAN_GRACE_SECONDS = 0
    orphan = exports_root / "exports" / "abc" / "left_behind.csv"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("x")
    out = StringIO()
    call_command("purge_downloads", "--dry-run", stdout=out)
    assert "Would remove orphan exports/abc/left_behind.csv" in out.getvalue()
    assert orphan.exists()
    call_command("purge_downloads", stdout=StringIO())
    assert not orphan.exists()
