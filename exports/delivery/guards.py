"""Checks around serving a download: a stored name must resolve inside the storage root, and
an unknown, foreign or unsafe file answers one private 404, never a 400 or a 500."""

import functools
import os
from collections.abc import Callable

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext

from exports.delivery.storage import exports_storage
from exports.models import DownloadFile


def safe_name(name: str) -> bool:
    """A relative key made of plain parts: no NUL, no absolute path, no `..` or `.`."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def servable(file: DownloadFile) -> bool:
    """On a filesystem also resolve symlinks: the real path must stay under the real root."""
    if not safe_name(file.stored_name):
        return False
    storage = exports_storage()
    if not isinstance(storage, FileSystemStorage):
        return True
    root = os.path.realpath(storage.location)
    try:
        real = os.path.realpath(storage.path(file.stored_name))
    except (SuspiciousFileOperation, ValueError):
        return False
    return real.startswith(root + os.sep) and os.path.isfile(real)


def not_found() -> HttpResponse:
    response = HttpResponseNotFound(gettext("Not found."), content_type="text/plain")
    patch_cache_control(response, private=True, no_store=True)
    return response


def private_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Not found (or a name the storage refuses) becomes a private, uncacheable 404."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (Http404, SuspiciousFileOperation):
            return not_found()

    return wrapped
