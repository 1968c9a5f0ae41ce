"""Which storage holds exported files, and where in it a file goes."""

import uuid

from django.core.files.storage import Storage, storages

from exports.conf import app_settings


def exports_storage() -> Storage:
    """Resolved on every call so tests and deployments can swap the alias."""
    return storages[app_settings.STORAGE]


def storage_key(filename: str) -> str:
    """A random folder per file: names never collide and never reveal a count."""
    return f"exports/{uuid.uuid4().hex}/{filename}"
