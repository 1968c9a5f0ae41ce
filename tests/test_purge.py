"""Purge: the command, the schedule and the admin's button all remove expired files only."""

import re
from datetime import timedelta
from io import StringIO

from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_q.models import Schedule

from exports.delivery.purge import purge_expired
from exports.delivery.storage import exports_storage
from exports.jobs.schedules import PURGE_SCHEDULE, ensure_schedules
from exports.models import DownloadFile, ExportAudit
from tests.conftest import make_user
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


def test_the_download_files_page_has_a_purge_button_with_its_count(admin_client, alice):
    finished_file(alice, expires_in=timedelta(seconds=-1))
    finished_file(alice)
    page = admin_client.get(reverse("admin:exports_downloadfile_changelist")).content.decode()
    assert "Purge expired now (1 file)" in page
    assert reverse("admin:exports_downloadfile_purge") in page
    assert "purge_expired_downloads" not in page, "the action that ignored the selection is gone"


def test_the_purge_button_needs_post_csrf_and_removes_only_expired_files(
    alice, django_capture_on_commit_callbacks
):
    User.objects.create_superuser("boss", "boss@example.com", "pw")
    expired = finished_file(alice, expires_in=timedelta(seconds=-1))
    live = finished_file(alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(User.objects.get(username="boss"))
    url = reverse("admin:exports_downloadfile_purge")
    assert browser.get(url).status_code == 405
    assert browser.post(url).status_code == 403, "no CSRF token"
    page = browser.get(reverse("admin:exports_downloadfile_changelist")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(url, {"csrfmiddlewaretoken": token}, follow=True)
    assert "Purged 1 expired download." in response.content.decode()
    assert list(DownloadFile.objects.all()) == [live]
    assert not exports_storage().exists(expired.stored_name)


def test_purging_from_the_admin_needs_the_delete_permission(client, alice):
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_downloadfile"))
    finished_file(alice, expires_in=timedelta(seconds=-1))
    client.force_login(viewer)
    page = client.get(reverse("admin:exports_downloadfile_changelist")).content.decode()
    assert "Purge expired now" not in page
    assert client.post(reverse("admin:exports_downloadfile_purge")).status_code == 403
    assert DownloadFile.objects.count() == 1


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
    folder = "0123456789abcdef0123456789abcdef"  # the shape storage_key() gives every file
    orphan = exports_root / "exports" / folder / "left_behind.csv"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("x")
    out = StringIO()
    call_command("purge_downloads", "--dry-run", stdout=out)
    assert f"Would remove orphan exports/{folder}/left_behind.csv" in out.getvalue()
    assert orphan.exists()
    call_command("purge_downloads", stdout=StringIO())
    assert not orphan.exists()


def test_a_file_an_admin_deletes_is_listed_as_such_on_my_downloads(admin_client, client, alice):
    file = finished_file(alice)
    delete = reverse("admin:exports_downloadfile_delete", args=[file.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    client.force_login(alice)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert "Deleted by an administrator on " in page
