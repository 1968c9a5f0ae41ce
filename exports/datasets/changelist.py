"""Which rows an export reads: a declared dataset by name, or an admin changelist's rows.

A changelist export stores the changelist's querystring (filters, search), never a list of
millions of ids, and the worker replays it through the ModelAdmin for the requesting user,
so the file holds exactly the rows that user's changelist shows.
"""

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import models
from django.test import RequestFactory

from exports.datasets import display as admin_display
from exports.datasets.base import SENSITIVE, Column, Dataset, UnknownDataset, get_dataset
from exports.datasets.conditions import ConditionError

ADMIN_PREFIX = "admin:"
EXPORT_PERMISSION = "exports.export_data"
# options["values"] = "display": the columns as the admin shows them; absent: raw values.
VALUES_OPTION = "values"
DISPLAY = "display"


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


@dataclasses.dataclass(frozen=True)
class DisplayDataset(ChangelistDataset):
    """The changelist as the admin shows it (datasets.display). Its own rows() keeps the
    engine off the COPY paths, which can only print raw values."""

    items: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # column -> list_display

    def __post_init__(self) -> None:
        """The columns come complete from display.columns(), and most are no ORM path."""

    def get_queryset(self) -> models.QuerySet:
        return admin_display.with_related(super().get_queryset(), list(self.items.values()))

    def rows(
        self, conditions: Any = None, limit: int | None = None, chunk_size: int = 2000
    ) -> Iterator[Sequence[Any]]:
        items = [self.items[c.name] for c in self.columns]
        return admin_display.rows(
            self.model_admin, self.filtered(conditions, limit), items, chunk_size
        )


def as_displayed(dataset: ChangelistDataset) -> DisplayDataset:
    """The same changelist with list_display's columns, as get_list_display() gives them to
    this user; deny-listed fields stay out."""
    request = RequestFactory().get("/?" + dataset.querystring)
    request.user = dataset.user
    shown = admin_display.columns(dataset.model_admin, request, dataset.is_sensitive)
    same = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(ChangelistDataset)}
    return DisplayDataset(
        **same | {"columns": tuple(c for c, _ in shown), "items": {c.name: i for c, i in shown}}
    )


def shown_as_admin(options: Mapping[str, Any] | None) -> bool:
    return bool(options) and options.get(VALUES_OPTION) == DISPLAY


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
    if getattr(model_admin, "export_dataset", ""):
        columns = list(get_dataset(model_admin.export_dataset).columns)
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
        model_admin=model_admin,
        user=user,
        querystring=querystring,
    )


def can_export(user, name: str) -> bool:
    if user is None or not user.is_active or not user.has_perm(EXPORT_PERMISSION):
        return False
    if name.startswith(ADMIN_PREFIX):
        model_admin = model_admin_for(name)
        request = RequestFactory().get("/")
        request.user = user
        return model_admin.has_export_permission(request)
    return True


def dataset_for(
    name: str,
    user,
    filters: dict[str, Any],
    columns: list[str] | None = None,
    *,
    display: bool = False,
):
    """The dataset an export reads, checked against the user's permissions right now;
    `display`: the changelist's columns as the admin shows them (see shown_as_admin)."""
    if not can_export(user, name):
        raise PermissionDenied("You do not have permission to export this data.")
    if name.startswith(ADMIN_PREFIX):
        dataset: Dataset = changelist_dataset(name, user, filters.get("changelist", ""))
        if display:
            dataset = as_displayed(dataset)
    elif display:
        raise ConditionError("Only an admin changelist can be exported as the admin shows it.")
    else:
        dataset = get_dataset(name)
    return only_columns(dataset, columns) if columns else dataset


def only_columns(dataset: Dataset, names: list[str]) -> Dataset:
    by_name = {c.name: c for c in dataset.columns}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConditionError(f"Unknown column {unknown[0]!r} for dataset {dataset.name!r}.")
    return dataclasses.replace(dataset, columns=tuple(by_name[n] for n in names))
