"""The exports storage on a real S3 server (SeaweedFS): save, open, delete, never overwrite."""

from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from exports.delivery.storage import storage_key


def test_exports_storage_saves_opens_and_deletes_objects_in_the_bucket(
    s3_exports, seaweedfs, s3_bucket, exports_root
):
    assert isinstance(s3_exports, S3Storage)
    name = s3_exports.save(storage_key("users_20260609T120000Z.csv"), ContentFile(b"id\n1\n"))
    assert seaweedfs.keys(s3_bucket) == [name]
    assert not exports_root.exists() or not any(exports_root.iterdir())
    with s3_exports.open(name, "rb") as stored:
        assert stored.read() == b"id\n1\n"
    assert s3_exports.size(name) == 5
    s3_exports.delete(name)
    assert not s3_exports.exists(name)
    assert seaweedfs.keys(s3_bucket) == []


def test_two_exports_with_the_same_name_in_the_same_second_get_two_objects(
    s3_exports, seaweedfs, s3_bucket
):
    filename = "users_20260609T120000Z.csv"  # what two exports finishing in one second share
    first = s3_exports.save(storage_key(filename), ContentFile(b"first\n"))
    second = s3_exports.save(storage_key(filename), ContentFile(b"second\n"))
    assert first != second
    assert first.endswith("/" + filename) and second.endswith("/" + filename)
    assert seaweedfs.keys(s3_bucket) == sorted([first, second])
    with s3_exports.open(first, "rb") as one, s3_exports.open(second, "rb") as other:
        assert (one.read(), other.read()) == (b"first\n", b"second\n")


def test_saving_under_an_existing_key_keeps_the_first_object(s3_exports, seaweedfs, s3_bucket):
    key = storage_key("users_20260609T120000Z.csv")
    first = s3_exports.save(key, ContentFile(b"first\n"))
    second = s3_exports.save(key, ContentFile(b"second\n"))
    assert first == key and second != key
    with s3_exports.open(first, "rb") as stored:
        assert stored.read() == b"first\n"
    assert len(seaweedfs.keys(s3_bucket)) == 2
