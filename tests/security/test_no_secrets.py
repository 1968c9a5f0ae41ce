"""No export of users, in any format, carries a password hash or a deny-listed column."""

import io
import re
import sqlite3
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from exports.datasets import registry
from exports.datasets.changelist import changelist_dataset
from exports.engine import export
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile
from tests.conftest import make_user

FORMATS = ["csv", "json", "xlsx", "ods", "tsvzip", "sqlite", "sql", "r"]
DENIED = re.compile(rb"pbkdf2_sha256\$|argon2|bcrypt\$|password", re.IGNORECASE)


def texts(data: bytes, fmt: str) -> list[bytes]:
    """Every readable part of an export: zip members, SQLite's dump, or the file itself."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name) for name in archive.namelist()]
    if fmt == "sqlite":
        with tempfile.NamedTemporaryFile(suffix=".sqlite3") as db:
            Path(db.name).write_bytes(data)
            with sqlite3.connect(db.name) as conn:
                return [data, "\n".join(conn.iterdump()).encode()]
    return [data]


@pytest.mark.parametrize("fmt", FORMATS)
def test_user_exports_contain_no_password_hash_or_denied_column(demo_data, fmt):
    root = make_user("root", staff=True, export=True)
    root.is_superuser = True
    root.save()
    assert User.objects.filter(password__startswith="pbkdf2_sha256$").count() > 1  # noqa: S106
    sources = [registry.get("users"), changelist_dataset("admin:auth.user", root, "")]
    for dataset in sources:
        out = io.BytesIO()
        result = export(out, dataset, fmt, {}, {"data_dictionary": True})
        assert result.rows == User.objects.count()
        for part in texts(out.getvalue(), fmt):
            assert not DENIED.search(part), (dataset.name, fmt, DENIED.search(part))


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_background_user_export_contains_no_password_hash(staff, demo_data, exports_root):
    staff.is_superuser = True
    staff.save()
    audit = queue_export(staff, "admin:auth.user", "csv", {"changelist": ""}).audit
    run(str(audit.pk))
    file = DownloadFile.objects.get(audit=audit)
    body = (exports_root / file.stored_name).read_bytes()
    assert b"staffer" in body and not DENIED.search(body)
