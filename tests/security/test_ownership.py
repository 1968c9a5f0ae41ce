"""Somebody else's export is indistinguishable from one that does not exist; expiry is 410
for the owner only; every answer about a file is private and uncacheable."""

from datetime import timedelta

import pytest
from django.urls import reverse

from exports.jobs.accept import queue_export
from exports.models import DownloadFile, ExportAudit, ExportStatus
from tests.factories import finished_file

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def is_private(response) -> bool:
    return set(response["Cache-Control"].split(", ")) >= {"private", "no-store"}


def test_another_users_file_is_404_like_an_unknown_id_everywhere(client, alice, bob):
    file = finished_file(alice)
    client.force_login(bob)
    for name in ("exports:download", "exports:status"):
        assert client.get(reverse(name, args=[UNKNOWN])).status_code == 404
    assert client.get(file.get_absolute_url()).status_code == 404
    assert client.get(file.audit.get_status_url()).status_code == 404
    assert client.post(file.audit.get_cancel_url()).status_code == 404
    assert client.post(file.get_delete_url()).status_code == 404
    assert client.post(reverse("exports:delete", args=[UNKNOWN])).status_code == 404
    assert client.post(reverse("exports:cancel", args=[UNKNOWN])).status_code == 404
    assert DownloadFile.objects.filter(pk=file.pk).exists()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_another_users_pending_export_cannot_be_watched_or_cancelled(client, staff, bob, demo_data):
    audit = queue_export(staff, "user_points", "csv").audit
    client.force_login(bob)
    assert client.get(audit.get_status_url()).status_code == 404
    assert client.post(audit.get_cancel_url()).status_code == 404
    assert ExportAudit.objects.get(pk=audit.pk).status == ExportStatus.QUEUED


def test_expired_is_410_for_its_owner_and_404_for_others_both_private(client, alice, bob):
    file = finished_file(alice, expires_in=timedelta(seconds=-1))
    client.force_login(alice)
    owner = client.get(file.get_absolute_url())
    assert owner.status_code == 410 and is_private(owner)
    client.force_login(bob)
    other = client.get(file.get_absolute_url())
    assert other.status_code == 404 and is_private(other)
    unknown = client.get(reverse("exports:download", args=[UNKNOWN]))
    assert unknown.status_code == 404 and is_private(unknown)
    assert other.content == unknown.content


def test_downloads_need_a_login(client, alice):
    file = finished_file(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
