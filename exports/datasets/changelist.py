"""Which rows an export reads: a declared dataset by name, or an admin changelist's rows.

A changelist export stores the changelist's querystring (filters, search), never a list of
millions of ids, and the worker replays it through the ModelAdmin for the requesting user,
so the file holds exactly the rows that user's changelist shows.
"""

import dataclasses
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import models
from django.test import RequestFactory

from exports.datasets.base import (
    DATASETS,
    SENSITIVE,
    Column,
    Dataset,
    UnknownDataset,
    get_dataset,
    view_permission,
)
from exports.datasets.conditions import ConditionError

ADMIN_PREFIX = "admin:"
EXPORT_PERMISSION = "exports.export_data"


def admin_dataset_name(model: type[models.Model]) -> str:
    return ADMIN_PREFIX + model._meta.label_lower


@dataclasses.dataclass(frozen=True)
class ChangelistDataset(Dataset):
    """A Dataset whose queryset is a ModelAdmin's changelist for one user and querystring."""

    model_admin: Any = None
    user: Any = None
    querystring: str = ""

    def get_queryset(self) -> models.QuerySet:
        request = RequestFactory().get("/?" + self.querystring)
        request.user = self.user
        try:
            changelist = self.model_admin.get_changelist_instance(request)
            return changelist.get_queryset(request)
        except (IncorrectLookupParameters, SuspiciousOperation) as exc:
            raise ConditionError(f"The admin refused these filters: {exc}") from exc

    def required_permissions(self) -> tuple[str, ...]:
        """The ModelAdmin decides about its own model (has_export_permission); the models
        its columns join to need view permission, unless a declared dataset says otherwise."""
        if self.permissions is not None:
            return tuple(self.permissions)
        return tuple(p for p in super().required_permissions() if p != view_permission(self.model))


def model_admin_for(name: str):
    try:
        model = apps.get_model(name.removeprefix(ADMIN_PREFIX))
        model_admin = admin.site._registry[model]
    except (LookupError, ValueError, KeyError):
        raise UnknownDataset(f"Unknown dataset {name!r}.") from None
    if not hasattr(model_admin, "has_export_permission"):
        raise UnknownDataset(f"Unknown dataset {name!r}.")
    return model_admin


def default_columns(model: type[models.Model]) -> list[Column]:
    """Every concrete field except the deny-listed ones; foreign keys as their ids."""
    return [
        Column(f.attname, f.attname, str(f.verbose_name).capitalize())
        for f in model._meta.concrete_fields
        if not SENSITIVE.search(f.name)
    ]


def changelist_dataset(name: str, user, querystring: str) -> ChangelistDataset:
    model_admin = model_admin_for(name)
    model = model_admin.model
    permissions = None
    if getattr(model_admin, "export_dataset", ""):
        declared = get_dataset(model_admin.export_dataset)
        columns = list(declared.columns)
        permissions = declared.permissions
    elif getattr(model_admin, "export_columns", None):
        columns = [Column(c, c) for c in model_admin.export_columns]
    else:
        columns = default_columns(model)
    return ChangelistDataset(
        name=getattr(model_admin, "export_dataset", "") or model._meta.model_name,
        title=str(model._meta.verbose_name_plural).capitalize(),
        model_label=model._meta.label,
        columns=tuple(columns),
        filters={"id": "pk"},
        permissions=permissions,
        model_admin=model_admin,
        user=user,
        querystring=querystring,
    )


def why_not(user, name: str) -> str:
    """Why `user` may not export dataset `name` now; "" when they may.
    Raises UnknownDataset for a name that is neither declared nor an exporting ModelAdmin."""
    if user is None or not user.is_active or not user.has_perm(EXPORT_PERMISSION):
        return "You do not have permission to export data."
    if name.startswith(ADMIN_PREFIX):
        model_admin = model_admin_for(name)
        request = RequestFactory().get("/")
        request.user = user
        if not model_admin.has_export_permission(request):
            return f"You do not have permission to export {name.removeprefix(ADMIN_PREFIX)}."
        dataset: Dataset = changelist_dataset(name, user, "")
    else:
        dataset = get_dataset(name)
    missing = [p for p in dataset.required_permissions() if not user.has_perm(p)]
    if missing:
        return (
            f"You do not have permission to export {dataset.title}: it needs {', '.join(missing)}."
        )
    return ""


def can_export(user, name: str) -> bool:
    """May `user` export dataset `name` now? The one answer every entry point uses."""
    try:
        return not why_not(user, name)
    except UnknownDataset:
        return False


def exportable_datasets(user) -> list[Dataset]:
    """The declared datasets `user` may export, in declaration order."""
    return [d for d in DATASETS.values() if can_export(user, d.name)]


def dataset_for(name: str, user, filters: dict[str, Any], columns: list[str] | None = None):
    """The dataset an export reads, checked against the user's permissions right now.
    Raises PermissionDenied (with the reason), UnknownDataset or ConditionError."""
    reason = why_not(user, name)
    if reason:
        raise PermissionDenied(reason)
    if name.startswith(ADMIN_PREFIX):
        dataset: Dataset = changelist_dataset(name, user, filters.get("changelist", ""))
    else:
        dataset = get_dataset(name)
    return only_columns(dataset, columns) if columns else dataset


def only_columns(dataset: Dataset, names: list[str]) -> Dataset:
    by_name = {c.name: c for c in dataset.columns}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConditionError(f"Unknown column {unknown[0]!r} for dataset {dataset.name!r}.")
    return dataclasses.replace(dataset, columns=tuple(by_name[n] for n in names))
