"""System checks (`manage.py check`, and every qcluster start) for settings that would run an
export twice or declare a live one dead, export a secret, or purge somebody else's files."""

import os

from django.conf import settings
from django.contrib import admin
from django.core.checks import Error, register
from django.core.files.storage import FileSystemStorage, InvalidStorageError, Storage, storages

from exports.conf import app_settings
from exports.datasets.base import DATASETS, UnknownDataset
from exports.datasets.changelist import configured_dataset


@register()
def check_queue_timing(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    cluster = getattr(settings, "Q_CLUSTER", {}) or {}
    timeout, retry = cluster.get("timeout"), cluster.get("retry", 60)
    if timeout is None:
        errors.append(
            Error(
                "Q_CLUSTER has no timeout: a long export outlives `retry` and is delivered again.",
                hint="Set Q_CLUSTER['timeout'] (Q_TIMEOUT) below Q_CLUSTER['retry'] (Q_RETRY).",
                id="exports.E001",
            )
        )
    elif retry <= timeout:
        errors.append(
            Error(
                f"Q_CLUSTER retry ({retry}s) must exceed timeout ({timeout}s): otherwise the "
                "broker hands a still-running export to a second worker.",
                hint="Raise Q_RETRY above Q_TIMEOUT plus a margin (e.g. timeout + 300).",
                id="exports.E001",
            )
        )
    beat = app_settings.HEARTBEAT_SECONDS
    stale = app_settings.STALE_SECONDS
    if stale <= 2 * beat:
        errors.append(
            Error(
                f"EXPORTS_STALE_SECONDS ({stale}) must exceed twice EXPORTS_HEARTBEAT_SECONDS "
                f"({beat}): the sweeper would take live exports from their workers.",
                id="exports.E002",
            )
        )
    if app_settings.MAX_ATTEMPTS < 1:
        errors.append(Error("EXPORTS_MAX_ATTEMPTS must be at least 1.", id="exports.E003"))
    return errors


@register()
def check_export_columns(app_configs=None, **kwargs) -> list[Error]:
    """A column that reaches a secret (or no field at all) is left out of every export; say
    so at start-up rather than let someone find the column missing."""
    errors: list[Error] = []
    hint = (
        "Secret fields (password, token, api_key, *_hash...: see the README) are never "
        "exported; remove the column, or fix its path."
    )
    for dataset in DATASETS.values():
        for path, why in dataset.omitted:
            errors.append(
                Error(
                    f"Dataset {dataset.name!r}: {path!r} is left out of every export: {why}.",
                    hint=hint,
                    id="exports.E004",
                )
            )
    for model_admin in admin.site._registry.values():
        if not hasattr(model_admin, "has_export_permission"):
            continue
        where = f"{type(model_admin).__name__} ({model_admin.model._meta.label})"
        try:
            omitted = configured_dataset(model_admin).omitted
        except UnknownDataset as exc:
            errors.append(Error(f"{where}: export_dataset: {exc}", id="exports.E004"))
            continue
        for path, why in omitted:
            errors.append(
                Error(
                    f"{where}: export column {path!r} is left out of every export: {why}.",
                    hint=hint,
                    obj=model_admin,
                    id="exports.E004",
                )
            )
    return errors


def storage_root(storage: Storage) -> tuple | None:
    """Where a storage keeps its files: a real folder, or a bucket and prefix (S3 and the
    like); None for a backend we cannot tell about."""
    if isinstance(storage, FileSystemStorage):
        return ("folder", os.path.realpath(storage.location))
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        endpoint = getattr(storage, "endpoint_url", None)
        return ("bucket", endpoint, bucket, (getattr(storage, "location", "") or "").strip("/"))
    return None


def root_of_alias(alias: str) -> tuple | None:
    try:
        return storage_root(storages[alias])
    except Exception:  # noqa: BLE001 - a storage that cannot even be built holds no files
        return None


def other_roots(alias: str) -> dict[str, tuple | None]:
    """Every other place files live: the other STORAGES aliases, MEDIA_ROOT, STATIC_ROOT."""
    roots: dict[str, tuple | None] = {}
    for other in settings.STORAGES:
        if other != alias:
            roots[f"STORAGES[{other!r}]"] = root_of_alias(other)
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        if getattr(settings, name, None):
            roots[name] = ("folder", os.path.realpath(getattr(settings, name)))
    return roots


@register()
def check_exports_storage(app_configs=None, **kwargs) -> list[Error]:
    """The orphan scan deletes files of its own shape that no row names: the storage must be
    Exportdesk's alone, never the root of another app's files."""
    alias = app_settings.STORAGE
    hint = (
        "Add a STORAGES alias of its own for exported files (a folder, or a bucket prefix "
        "through the backend's `location`, that nothing else writes to) and name it in "
        "EXPORTS_STORAGE."
    )
    if alias in ("default", "staticfiles"):
        message = f"EXPORTS_STORAGE is {alias!r}: exported files must not share a storage."
        return [Error(message, hint=hint, id="exports.E005")]
    try:
        root = storage_root(storages[alias])
    except InvalidStorageError:
        message = f"EXPORTS_STORAGE names {alias!r}, which is not in STORAGES."
        return [Error(message, hint=hint, id="exports.E005")]
    shared = [name for name, other in other_roots(alias).items() if root and other == root]
    if not shared:
        return []
    message = (
        f"EXPORTS_STORAGE {alias!r} keeps its files where {', '.join(shared)} does: the "
        "orphan scan could delete files that are not exports."
    )
    return [Error(message, hint=hint, id="exports.E005")]
