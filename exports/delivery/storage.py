"""Which storage holds exported files, and where in it a file goes.

The host names a storage alias with EXPORTS_STORAGE (default "exports"). When STORAGES has
no alias of that default name, exported files go to a private folder on the local disk,
EXPORTS_ROOT: owner-only permissions and no URL, since every download goes through the view
that checks the owner and the expiry. Its default lies outside the project's source tree (a
checkout must not fill up with exported data, nor a web server serve it):
$XDG_DATA_HOME/exportdesk/<project>-<hash>, ~/.local/share/... without XDG_DATA_HOME.
"""

import functools
import hashlib
import os
import re
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
    return data_home() / "exportdesk" / project_folder()


def data_home() -> Path:
    """The XDG Base Directory default for user data; a relative XDG_DATA_HOME is invalid
    there and ignored."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg)
    try:
        return Path.home() / ".local" / "share"
    except RuntimeError:  # no HOME and no passwd entry: a bare container user
        raise ImproperlyConfigured(
            "Exportdesk needs a folder for exported files and this user has no home "
            f"directory: set EXPORTS_ROOT, or add a {DEFAULTS['STORAGE']!r} alias to STORAGES."
        ) from None


def project_folder() -> str:
    """`<settings package>-<hash>`: one folder per checkout (BASE_DIR) and database, since the
    orphan scan deletes files that its database does not name. A host's test run (its test
    database) therefore never touches the files of the same checkout's real one."""
    database = settings.DATABASES.get("default", {})
    identity = [
        str(getattr(settings, "BASE_DIR", "")),
        str(settings.SETTINGS_MODULE or ""),
        *(str(database.get(key, "")) for key in ("ENGINE", "NAME", "HOST", "PORT")),
    ]
    digest = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:12]
    package = (settings.SETTINGS_MODULE or "project").split(".")[0]
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', package)}-{digest}"


@functools.lru_cache(maxsize=8)
def fallback_storage(location: str) -> FileSystemStorage:
    return PrivateFileSystemStorage(
        location=location, file_permissions_mode=0o600, directory_permissions_mode=0o700
    )


def storage_key(filename: str) -> str:
    """A random folder per file: names never collide and never reveal a count."""
    return f"exports/{uuid.uuid4().hex}/{filename}"
