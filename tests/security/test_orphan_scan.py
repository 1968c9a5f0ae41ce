"""The orphan scan deletes only what Exportdesk itself stores (exports/<32 hex>/<file>), and a
storage shared with other files is refused at start-up (exports.E005)."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from exports.checks import check_exports_storage, check_installation
from exports.delivery.purge import purge_expired, purge_orphans
from exports.delivery.storage import exports_storage, storage_key
from tests.factories import finished_file

FS = "django.core.files.storage.FileSystemStorage"
S3 = "storages.backends.s3.S3Storage"
OTHERS = [
    "exports/readme.txt",
    "exports/abc/x",
    "other/y",
    "exports/tmp/upload/part.csv",
    f"exports/{uuid.uuid4().hex.upper()}/upper.csv",
    f"exports/{uuid.uuid4().hex}/deeper/z.csv",
    f"exports/{uuid.uuid4()}/dashed.csv",
]


def test_the_orphan_scan_keeps_files_it_does_not_own(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.EXPORTS_ORPHAN_GRACE_SECONDS = 0
    storage = exports_storage()
    for name in OTHERS:
        assert storage.save(name, ContentFile(b"not ours")) == name
    ours = finished_file(alice)
    orphan = storage.save(storage_key("left_behind.csv"), ContentFile(b"x"))
    later = timezone.now() + timedelta(seconds=1)
    assert purge_orphans(now=later) == [orphan]
    with django_capture_on_commit_callbacks(execute=True):
        purge_expired(now=later)
    assert not storage.exists(orphan)
    assert all(storage.exists(name) for name in OTHERS)
    assert storage.exists(ours.stored_name)


def storages_with(exports: dict, default: dict | None = None) -> dict:
    return {
        "default": default or {"BACKEND": FS},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "exports": exports,
    }


def e005(settings) -> list[str]:
    return [e.msg for e in check_exports_storage() if e.id == "exports.E005"]


def test_a_storage_of_its_own_passes(settings, exports_root):
    assert e005(settings) == []


@pytest.mark.parametrize("alias", ["default", "staticfiles"])
def test_the_default_and_static_storages_are_refused(settings, alias):
    settings.EXPORTS_STORAGE = alias
    assert [f"EXPORTS_STORAGE is {alias!r}" in m for m in e005(settings)] == [True]


def test_a_storage_rooted_at_media_root_is_refused(settings, tmp_path: Path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = storages_with({"BACKEND": FS, "OPTIONS": {"location": settings.MEDIA_ROOT}})
    messages = e005(settings)
    assert len(messages) == 1 and "MEDIA_ROOT" in messages[0]
    settings.STORAGES = storages_with(
        {"BACKEND": FS, "OPTIONS": {"location": str(tmp_path / "media" / "exportdesk")}}
    )
    assert e005(settings) == [], "a folder of its own inside MEDIA_ROOT is fine"


def test_a_bucket_shared_with_the_default_storage_is_refused(settings):
    bucket = {"BACKEND": S3, "OPTIONS": {"bucket_name": "files", "location": ""}}
    settings.STORAGES = storages_with(bucket, default=bucket)
    messages = e005(settings)
    assert len(messages) == 1 and "STORAGES['default']" in messages[0]
    own = {"BACKEND": S3, "OPTIONS": {"bucket_name": "files", "location": "exportdesk"}}
    settings.STORAGES = storages_with(own, default=bucket)
    assert e005(settings) == []


def test_an_unknown_storage_alias_is_named(settings):
    settings.EXPORTS_STORAGE = "nope"
    errors = [e for e in check_installation() if e.id == "exports.E014"]
    assert ["'nope'" in e.msg for e in errors] == [True]
