"""Saving a finished export into storage so that a failure leaves nothing under its name.

FileSystemStorage.save() on a full disk leaves a truncated file under the final name; an
interrupted upload may leave a partial object elsewhere. Whatever goes wrong, remove it.
"""

import contextlib
import logging
import os

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage

log = logging.getLogger(__name__)


def save_whole(storage: Storage, name: str, content: File) -> str:
    try:
        return storage.save(name, content)
    except BaseException:
        remove(storage, name)
        raise


def remove(storage: Storage, name: str) -> None:
    """Delete `name` and, on a filesystem, its folder if that is now empty; never raises."""
    try:
        if storage.exists(name):
            storage.delete(name)
        if isinstance(storage, FileSystemStorage):
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(storage.path(name)))
    except Exception:
        log.exception("could not remove %s; the orphan scan will retry", name)
