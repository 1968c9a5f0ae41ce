"""Stored names never leave the storage root: traversal, absolute paths, NUL and symlinks give
a clean private 404, never a 400, a 500 or a byte of the target."""

import os
from pathlib import Path

import pytest
from django.db import DataError, transaction

from exports.delivery.guards import safe_name
from exports.models import DownloadFile
from tests.factories import finished_file

SECRET = b"outside the storage root"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside" / "secret.txt"
    target.parent.mkdir()
    target.write_bytes(SECRET)
    return target


def answer(client, file: DownloadFile):
    response = client.get(file.get_absolute_url())
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "/etc/passwd",
        "a/../../x",
        "exports/../../outside/secret.txt",
        "exports/./x",
        "a\\..\\x",
    ],
)
def test_traversal_names_never_resolve(client, alice, outside, name):
    file = finished_file(alice)
    DownloadFile.objects.filter(pk=file.pk).update(stored_name=name)
    client.force_login(alice)
    response, body = answer(client, file)
    assert response.status_code == 404
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert SECRET not in body and b"root:" not in body


def test_a_nul_in_a_stored_name_is_refused_by_the_database_and_the_guard(alice):
    file = finished_file(alice)
    with pytest.raises((DataError, ValueError)), transaction.atomic():
        DownloadFile.objects.filter(pk=file.pk).update(stored_name="exports/a\x00/../../x")
    assert not safe_name("exports/a\x00b")


def test_a_symlink_inside_the_storage_root_is_not_followed(client, alice, outside, exports_root):
    folder = exports_root / "exports" / "linked"
    folder.mkdir(parents=True)
    (folder / "secret.csv").symlink_to(outside)
    (exports_root / "exports" / "etc").symlink_to(outside.parent)
    client.force_login(alice)
    for name in ("exports/linked/secret.csv", "exports/etc/secret.txt"):
        file = finished_file(alice)
        DownloadFile.objects.filter(pk=file.pk).update(stored_name=name)
        response, body = answer(client, file)
        assert response.status_code == 404, name
        assert SECRET not in body


def test_a_row_whose_object_is_missing_is_404_not_500(client, alice, exports_root):
    file = finished_file(alice)
    os.remove(exports_root / file.stored_name)
    client.force_login(alice)
    assert client.get(file.get_absolute_url()).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/downloads/../etc/passwd/",
        "/downloads/%2e%2e%2fetc%2fpasswd/",
        "/downloads/%00/",
        "/downloads/1/",
    ],
)
def test_download_urls_take_a_uuid_only(client, alice, path):
    client.force_login(alice)
    assert client.get(path).status_code == 404
