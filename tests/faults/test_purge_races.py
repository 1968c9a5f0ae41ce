"""Purge racing downloads, finishing exports and itself; the orphan scan's limits."""

import threading
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.utils import timezone

from exports.delivery.purge import TEMPORARY_PREFIX, purge_expired, purge_orphans
from exports.delivery.storage import exports_storage, storage_key
from exports.jobs.accept import queue_export
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.seed import top_up
from tests.factories import finished_file

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.sqlite_lane]


def test_purge_during_a_download_lets_the_download_finish(client, alice):
    body = b"id,name\n" + b"1,x\n" * 50_000
    file = finished_file(alice, body=body)
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    chunks = iter(response.streaming_content)
    first = next(chunks)
    DownloadFile.objects.filter(pk=file.pk).update(expires_at=timezone.now())  # expires now
    assert purge_expired() == [file.stored_name]
    assert not exports_storage().exists(file.stored_name)
    assert first + b"".join(chunks) == body, "the open handle still reads the whole file"
    response.close()
    assert client.get(file.get_absolute_url()).status_code == 404


def test_purge_while_an_export_finishes_removes_nothing_live(staff, start_cluster):
    top_up(20_000)
    live = finished_file(staff)
    start_cluster()
    audit = queue_export(staff, "user_points", "xlsx").audit
    purges = 0
    while ExportAudit.objects.get(pk=audit.pk).status in ("queued", "running"):
        assert purge_expired() == []  # the expiry sweep and the orphan scan, repeatedly
        purges += 1
        assert purges < 100_000, "the export never finished"
    assert purges > 1
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    for file in DownloadFile.objects.all():
        assert exports_storage().exists(file.stored_name)
    assert DownloadFile.objects.filter(pk=live.pk).exists()


def test_two_purges_at_once_share_the_work_without_overlap(alice):
    """PostgreSQL: the second purge skips the rows the first has locked, without waiting.
    SQLite (IMMEDIATE transactions): it waits for the first to commit, then takes the rest."""
    early = [finished_file(alice, expires_in=timedelta(hours=-2)) for _ in range(3)]
    late = [finished_file(alice, expires_in=timedelta(seconds=-1)) for _ in range(3)]
    live = [finished_file(alice) for _ in range(2)]
    held, release, first, second = threading.Event(), threading.Event(), [], []
    errors: list[BaseException] = []

    def slow_purge() -> None:
        try:
            with transaction.atomic():  # keeps its row locks until released
                first.extend(purge_expired(now=timezone.now() - timedelta(hours=1)))
                held.set()
                release.wait(30)
        except BaseException as exc:
            errors.append(exc)
            held.set()
        finally:
            connections.close_all()

    def purge() -> None:
        try:
            second.extend(purge_expired())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    other, racer = threading.Thread(target=slow_purge), threading.Thread(target=purge)
    other.start()
    assert held.wait(30)
    racer.start()
    racer.join(30 if connection.vendor == "postgresql" else 0.5)
    assert racer.is_alive() == (connection.vendor == "sqlite"), "waits only on SQLite"
    release.set()
    other.join(30)
    racer.join(30)
    assert errors == []
    assert sorted(first) == sorted(f.stored_name for f in early)
    assert sorted(second) == sorted(f.stored_name for f in late), "skipped the locked rows"
    assert not set(first) & set(second)
    storage = exports_storage()
    assert not any(storage.exists(f.stored_name) for f in early + late)
    assert all(storage.exists(f.stored_name) for f in live)
    assert list(DownloadFile.objects.order_by("pk")) == sorted(live, key=lambda f: f.pk)


def test_the_orphan_scan_removes_only_old_rowless_objects_outside_the_temporary_prefix(alice):
    storage = exports_storage()
    kept = finished_file(alice, expires_in=timedelta(days=3))
    orphan = storage.save(storage_key("orphan.csv"), ContentFile(b"x"))
    temporary = storage.save(TEMPORARY_PREFIX + "upload/part.csv", ContentFile(b"x"))
    now = timezone.now()
    assert purge_orphans(now=now, grace=timedelta(hours=1)) == [], "too young"
    later = now + timedelta(hours=2)
    assert purge_orphans(now=later, grace=timedelta(hours=1)) == [orphan]
    assert not storage.exists(orphan)
    assert storage.exists(temporary) and storage.exists(kept.stored_name)
    assert ExportAudit.objects.filter(pk=kept.audit_id).exists()
