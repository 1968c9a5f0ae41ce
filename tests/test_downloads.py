"""My downloads: owners only, expiry enforced, deletes need POST and CSRF."""

import re
from datetime import timedelta

from django.test import Client
from django.urls import reverse

from exports.delivery.purge import purge_expired
from exports.delivery.storage import exports_storage
from exports.models import DownloadFile
from tests.factories import finished_file


def test_my_downloads_requires_login(client, db):
    response = client.get(reverse("exports:my-downloads"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_my_downloads_lists_only_my_files_newest_first(client, alice, bob):
    older = finished_file(alice)
    newer = finished_file(alice)
    theirs = finished_file(bob)
    client.force_login(alice)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert page.index(newer.get_absolute_url()) < page.index(older.get_absolute_url())
    assert theirs.get_absolute_url() not in page
    assert "59\xa0minutes" in page and older.size_display in page
    assert older.get_delete_url() in page and "csrfmiddlewaretoken" in page


def test_owner_downloads_file_as_private_attachment(client, alice):
    file = finished_file(alice, body=b"id,name\n1,x\n")
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"id,name\n1,x\n"
    assert response["Content-Disposition"] == f'attachment; filename="{file.filename}"'
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}


def test_another_users_file_is_404_like_an_unknown_id(client, alice, bob):
    file = finished_file(alice)
    client.force_login(bob)
    unknown = reverse("exports:download", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(unknown).status_code == 404
    assert client.get(file.get_absolute_url()).status_code == 404
    assert client.post(file.get_delete_url()).status_code == 404
    assert DownloadFile.objects.filter(pk=file.pk).exists()
    assert exports_storage().exists(file.stored_name)


def test_expired_file_is_gone_for_its_owner(client, alice):
    file = finished_file(alice, expires_in=timedelta(seconds=-1))
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 410
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    assert "expired" in response.content.decode()


def test_delete_rejects_get(client, alice):
    file = finished_file(alice)
    client.force_login(alice)
    assert client.get(file.get_delete_url()).status_code == 405
    assert DownloadFile.objects.filter(pk=file.pk).exists()


def test_delete_needs_a_csrf_token(alice, django_capture_on_commit_callbacks):
    file = finished_file(alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(file.get_delete_url()).status_code == 403
    assert DownloadFile.objects.filter(pk=file.pk).exists()

    page = browser.get(reverse("exports:my-downloads")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(file.get_delete_url(), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not DownloadFile.objects.filter(pk=file.pk).exists()
    assert not exports_storage().exists(file.stored_name)


def test_download_file_describes_itself(alice):
    file = finished_file(alice, expires_in=timedelta(hours=2), body=b"x" * 2048)
    assert file.size_display == "2.0\xa0KB"
    assert file.time_left.startswith("1\xa0hour") or file.time_left.startswith("2\xa0hours")
    assert not file.is_expired()
    assert file.get_absolute_url() == f"/downloads/{file.pk}/"
    assert file.get_delete_url() == f"/downloads/{file.pk}/delete/"


def ended_row(client, audit) -> str:
    page = client.get(reverse("exports:my-downloads")).content.decode()
    match = re.search(rf'<tr data-export="{audit.pk}">(.*?)</tr>', page, re.S)
    assert match, "the export is listed under 'Exports without a file'"
    return match.group(1)


def test_a_file_deleted_by_its_owner_is_listed_as_deleted_by_you(client, alice):
    file = finished_file(alice)
    client.force_login(alice)
    client.post(file.get_delete_url())
    row = ended_row(client, file.audit)
    assert "Deleted by you on " in row
    audit = file.audit
    audit.refresh_from_db()
    assert audit.file_gone == "deleted" and audit.file_gone_at is not None


def test_a_purged_file_is_listed_as_expired_and_purged(client, alice):
    file = finished_file(alice, expires_in=timedelta(seconds=-1))
    purge_expired(orphans=False)
    client.force_login(alice)
    row = ended_row(client, file.audit)
    assert "Expired and purged on " in row


def test_the_download_link_leaves_errors_visible(client, alice):
    """No `download` attribute: the 410 'expired' page and the 429 message must show."""
    file = finished_file(alice)
    client.force_login(alice)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    link = re.search(rf'<a href="{file.get_absolute_url()}"[^>]*>', page).group(0)
    assert "download" not in link.removeprefix(f'<a href="{file.get_absolute_url()}"')


def test_the_status_json_answers_401_to_a_signed_out_page(client, alice):
    for url in [reverse("exports:pending-status"), finished_file(alice).audit.get_status_url()]:
        response = client.get(url)
        assert response.status_code == 401
        assert response.json() == {"error": "signed out"}
