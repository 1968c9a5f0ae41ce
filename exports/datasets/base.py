"""Datasets: named, allow-listed sources of rows (the registry is in registry.py)."""

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.functional import keep_lazy_text
from django.utils.translation import gettext_lazy as _

from exports.datasets.conditions import ConditionError, to_q
from exports.datasets.registry import UnknownDataset, get_dataset, registry
from exports.datasets.sensitive import is_sensitive_path
from exports.i18n import later

LEFT_OUT_SECRET = _("a secret field")  # a reason, not a password; lazy: datasets live long

KINDS: dict[type[models.Field], str] = {
    models.BooleanField: "boolean",
    models.IntegerField: "integer",
    models.BigIntegerField: "integer",
    models.SmallIntegerField: "integer",
    models.PositiveIntegerField: "integer",
    models.AutoField: "integer",
    models.BigAutoField: "integer",
    models.FloatField: "float",
    models.DecimalField: "decimal",
    models.DateTimeField: "datetime",
    models.DateField: "date",
    models.JSONField: "json",
    models.UUIDField: "text",
}


@dataclass(frozen=True)
class Column:
    name: str
    source: str  # ORM path, e.g. "user__username"
    heading: str = ""
    description: str = ""
    kind: str = ""  # text | integer | float | decimal | boolean | date | datetime | json


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    model_label: str
    columns: tuple[Column, ...]
    filters: Mapping[str, str]  # name a request may use -> ORM path
    description: str = ""
    allow_sensitive: frozenset[str] = field(default_factory=frozenset)
    # "app_label.codename"s a user needs besides exports.export_data; None: the view permission
    # on every model the dataset reads (see required_permissions).
    permissions: tuple[str, ...] | None = None
    # (path, why) for every column left out (a secret or an unknown field) and every filter
    # left out (a secret). Filled in here; the system check exports.E004 reports them.
    omitted: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Headings, kinds and the check of every path need the models: at once when they are
        # loaded, else when the registry first hands the dataset out (a datasets.py may be
        # imported early).
        if apps.models_ready:
            self._check_and_complete()
            object.__setattr__(self, "_completed", True)

    def _check_and_complete(self) -> None:
        """A configuration mistake never reaches a request as a 500: the column is left out."""
        model = self.model
        omitted = list(self.omitted)
        columns = []
        for column in self.columns:
            problem = self.problem(column.source)
            if problem:
                omitted.append((column.source, problem))
            else:
                columns.append(self._complete(model, column))
        filters = {}
        for name, path in self.filters.items():  # may hold lookups the ORM resolves itself
            if self.is_sensitive(path):
                omitted.append((path, LEFT_OUT_SECRET))
            else:
                filters[name] = path
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "filters", filters)
        object.__setattr__(self, "omitted", tuple(dict.fromkeys(omitted)))

    @property
    def completed(self) -> bool:
        return getattr(self, "_completed", False)

    def complete(self) -> "Dataset":
        """This dataset checked, with headings and kinds filled in; needs the models loaded."""
        return self if self.completed else dataclasses.replace(self)

    def problem(self, path: str) -> str:
        """Why `path` may not be read ("" when it may)."""
        if self.is_sensitive(path):
            return LEFT_OUT_SECRET
        try:
            resolve_field(self.model, path)
        except ValueError as exc:
            # Its lazy text: the dataset is kept for the process and read in many languages.
            return exc.args[0] if exc.args else str(exc)
        return ""

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    def paths(self) -> list[str]:
        """Every ORM path the dataset reads: its columns and its filters."""
        return [c.source for c in self.columns] + list(self.filters.values())

    def models_read(self) -> set[type[models.Model]]:
        """Its model and every model a column or filter path joins to."""
        found = {self.model}
        for path in self.paths():
            found.update(joined_models(self.model, path))
        return found

    def required_permissions(self) -> tuple[str, ...]:
        """What a user needs to export this dataset (besides exports.export_data)."""
        if self.permissions is not None:
            return tuple(self.permissions)
        return tuple(sorted(view_permission(model) for model in self.models_read()))

    def is_sensitive(self, path: str) -> bool:
        return path not in self.allow_sensitive and is_sensitive_path(path)

    def _complete(self, model: type[models.Model], column: Column) -> Column:
        model_field = resolve_field(model, column.source)
        heading = column.heading or capitalized(model_field.verbose_name)
        kind = column.kind or kind_of(model_field)
        description = column.description or str(model_field.help_text or "")
        return Column(column.name, column.source, heading, description, kind)

    def get_queryset(self) -> models.QuerySet:
        return self.model._default_manager.all()

    def filtered(self, conditions: Any = None, limit: int | None = None) -> models.QuerySet:
        """Raises ConditionError for anything outside the allow-list."""
        qs = self.get_queryset().filter(to_q(conditions, self.filters)).order_by("pk")
        return qs[:limit] if limit else qs

    def rows(
        self, conditions: Any = None, limit: int | None = None, chunk_size: int = 2000
    ) -> Iterator[Sequence[Any]]:
        """Streams with a server-side cursor; call inside transaction.atomic() on PostgreSQL
        (in autocommit Django declares the cursor WITH HOLD and the server materialises it)."""
        sources = [c.source for c in self.columns]
        return self.filtered(conditions, limit).values_list(*sources).iterator(chunk_size)


@keep_lazy_text
def capitalized(verbose_name: str) -> str:
    """A field's heading, lazy like its verbose_name: the registry keeps the dataset for the
    process, and each export renders it in its own language (engine.tables makes it a str)."""
    return str(verbose_name).capitalize()


def resolve_field(model: type[models.Model], path: str) -> models.Field:
    """The model field an ORM path ends at (`pk` is the primary key at any step); ValueError
    for a path that goes nowhere."""
    parts = path.split("__")
    current = model
    try:
        for part in parts[:-1]:
            current = _field(current, part).related_model
            if current is None:
                raise FieldDoesNotExist
        return _field(current, parts[-1])
    except FieldDoesNotExist as exc:
        text = _("%(model)s has no field %(path)s")
        raise ValueError(later(text, model=model.__name__, path=repr(path))) from exc


def may_be_null(model: type[models.Model], path: str) -> bool:
    """Whether a value read along an ORM path can be NULL: a field that allows it, or a
    relation on the way that may find nothing (a nullable foreign key, a reverse or
    many-to-many relation)."""
    current = model
    for part in path.split("__"):
        field = _field(current, part)
        if field.null or field.one_to_many or field.many_to_many:
            return True
        current = field.related_model
    return False


def _field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def joined_models(model: type[models.Model], path: str) -> Iterator[type[models.Model]]:
    """The models a path goes through: `user__username` joins to the user model."""
    for part in path.split("__")[:-1]:
        try:
            model = model._meta.get_field(part).related_model
        except FieldDoesNotExist:
            return
        if model is None:
            return
        yield model


def view_permission(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{get_permission_codename('view', model._meta)}"


def kind_of(model_field: models.Field) -> str:
    if model_field.is_relation:
        return kind_of(model_field.target_field)
    for cls in type(model_field).__mro__:
        if cls in KINDS:
            return KINDS[cls]
    return "text"


__all__ = [
    "Column",
    "ConditionError",
    "Dataset",
    "UnknownDataset",
    "get_dataset",
    "registry",
]
