"""Which storage holds exported files, and where in it a file goes.

The host names a storage alias with EXPORTS_STORAGE (default "exports"). When STORAGES has
no alias of that default name, exported files go to a private folder on the local disk,
EXPORTS_ROOT (default BASE_DIR/var/exports): owner-only permissions and no URL, since every
download goes through the view that checks the owner and the expiry.
"""

import functools
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage, storages

from exports.conf import DEFAULTS, app_settings


class PrivateFileSystemStorage(FileSystemStorage):
    """A FileSystemStorage that never hands out a URL for what it holds."""

    def url(self, name: str | None) -> str:
        raise ValueError("Exported files have no public URL; they are served by exports:download.")


def exports_storage() -> Storage:
    """Resolved on every call so tests and deployments can swap the alias."""
    alias = app_settings.STORAGE
    if alias in settings.STORAGES or alias != DEFAULTS["STORAGE"]:
        return storages[alias]  # a misspelt alias fails here, and check exports.E014 says so
    return fallback_storage(str(exports_root()))


def uses_fallback() -> bool:
    return app_settings.STORAGE not in settings.STORAGES


def exports_root() -> Path:
    """The fallback storage's folder."""
    if app_settings.ROOT:
        return Path(app_settings.ROOT)
    base = getattr(settings, "BASE_DIR", None)
    if not base:
        raise ImproperlyConfigured(
            "Exportdesk needs a folder for exported files: set EXPORTS_ROOT (or BASE_DIR), "
            f"or add a {DEFAULTS['STORAGE']!r} alias to STORAGES."
        )
    return Path(base) / "var" / "exports"


@functools.lru_cache(maxsize=8)
def fallback_storage(location: str) -> FileSystemStorage:
    return PrivateFileSystemStorage(
        location=location, file_permissions_mode=0o600, directory_permissions_mode=0o700
    )


def storage_key(filename: str) -> str:
    """A random folder per file: names never collide and never reveal a count."""
    return f"exports/{uuid.uuid4().hex}/{filename}"
