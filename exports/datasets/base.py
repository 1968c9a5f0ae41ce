"""Datasets: named, allow-listed sources of rows, and the registry of the declared ones."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from exports.datasets.conditions import ConditionError, to_q
from exports.datasets.sensitive import is_sensitive_path

LEFT_OUT_SECRET = "a secret field"  # noqa: S105 - a reason, not a password

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

    def problem(self, path: str) -> str:
        """Why `path` may not be read ("" when it may)."""
        if self.is_sensitive(path):
            return LEFT_OUT_SECRET
        try:
            resolve_field(self.model, path)
        except ValueError as exc:
            return str(exc)
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
    """The field at the end of an ORM path; ValueError for a path that goes nowhere."""
    parts = path.split("__")
    current = model
    try:
        for part in parts[:-1]:
            current = current._meta.get_field(part).related_model
            if current is None:
                raise FieldDoesNotExist
        if parts[-1] == "pk":
            return current._meta.pk
        return current._meta.get_field(parts[-1])
    except FieldDoesNotExist as exc:
        raise ValueError(f"{model.__name__} has no field {path!r}") from exc


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


def _cols(*specs: tuple[str, str] | tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


RANGE = {"created": "created", "id": "pk"}

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="users",
            title="Users",
            model_label="auth.User",
            description="Accounts; never passwords or other secrets.",
            columns=_cols(
                ("id", "id", "User ID"),
                ("username", "username"),
                ("first_name", "first_name"),
                ("last_name", "last_name"),
                ("email", "email"),
                ("is_active", "is_active"),
                ("created", "date_joined", "Joined"),
                ("last_login", "last_login"),
            ),
            filters={"created": "date_joined", "id": "pk", "is_active": "is_active"},
        ),
        Dataset(
            name="user_points",
            title="User points",
            model_label="demo.UserPoint",
            description="Points earned per user, task and game.",
            # The username, game and task names only label each row: whoever may view the
            # points may export them (the default would also ask for view_user/game/task).
            permissions=("demo.view_userpoint",),
            columns=_cols(
                ("id", "id", "ID"),
                ("user_id", "user_id", "User ID"),
                ("username", "user__username", "Username"),
                ("game_id", "game_id", "Game ID"),
                ("game", "game__name", "Game"),
                ("task_id", "task_id", "Task ID"),
                ("task", "task__name", "Task"),
                ("points", "points", "Points"),
                ("created", "created", "Created"),
            ),
            filters={
                **RANGE,
                "game": "game_id",
                "task": "task_id",
                "user": "user_id",
                "points": "points",
            },
        ),
        Dataset(
            name="user_interactions",
            title="User interactions",
            model_label="demo.UserInteraction",
            description="User actions with their JSON data; game/task live inside the data.",
            columns=_cols(
                ("id", "id", "ID"),
                ("user_id", "user_id", "User ID"),
                ("username", "user__username", "Username"),
                ("action", "action", "Action"),
                ("data", "data", "Data"),
                ("created", "created", "Created"),
            ),
            filters={**RANGE, "user": "user_id", "action": "action"},
        ),
        Dataset(
            name="wallet_transactions",
            title="Wallet transactions",
            model_label="demo.WalletTransaction",
            description="Money moving in and out of user wallets.",
            columns=_cols(
                ("id", "id", "ID"),
                ("user_id", "user_id", "User ID"),
                ("username", "user__username", "Username"),
                ("amount", "amount", "Amount"),
                ("kind", "kind", "Kind"),
                ("note", "note", "Note"),
                ("created", "created", "Created"),
            ),
            filters={**RANGE, "user": "user_id", "kind": "kind", "amount": "amount"},
        ),
    ]
}


class UnknownDataset(LookupError):
    pass


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDataset(f"Unknown dataset {name!r}.") from None


__all__ = ["DATASETS", "Column", "ConditionError", "Dataset", "get_dataset"]
