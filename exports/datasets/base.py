"""Datasets: named, allow-listed sources of rows (the registry is in registry.py)."""

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from exports.datasets.conditions import ConditionError, to_q
from exports.datasets.registry import UnknownDataset, get_dataset, registry

# Django's own pattern for values it hides in error reports, plus the password field.
SENSITIVE = re.compile(r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE", re.IGNORECASE)

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

    def __post_init__(self) -> None:
        for path in [c.source for c in self.columns] + list(self.filters.values()):
            if self.is_sensitive(path):
                raise ValueError(f"Dataset {self.name!r}: {path!r} is a sensitive field.")
        # Headings and kinds come from the model: at once when models are loaded, else when
        # the registry first hands the dataset out (a datasets.py may be imported early).
        if apps.models_ready:
            model = self.model
            columns = tuple(self._complete(model, c) for c in self.columns)
            object.__setattr__(self, "columns", columns)
            object.__setattr__(self, "_completed", True)

    @property
    def completed(self) -> bool:
        return getattr(self, "_completed", False)

    def complete(self) -> "Dataset":
        """This dataset with headings and kinds filled in; needs the models loaded."""
        return self if self.completed else dataclasses.replace(self)

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    def is_sensitive(self, path: str) -> bool:
        return path not in self.allow_sensitive and any(
            SENSITIVE.search(part) for part in path.split("__")
        )

    def _complete(self, model: type[models.Model], column: Column) -> Column:
        model_field = resolve_field(model, column.source)
        heading = column.heading or str(model_field.verbose_name).capitalize()
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


def resolve_field(model: type[models.Model], path: str) -> models.Field:
    """The model field an ORM path ends at; `pk` is the primary key at any step."""
    parts = path.split("__")
    try:
        for part in parts[:-1]:
            model = _field(model, part).related_model
        return _field(model, parts[-1])
    except (FieldDoesNotExist, AttributeError) as exc:
        raise ValueError(f"{model.__name__} has no field {path!r}") from exc


def _field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


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
