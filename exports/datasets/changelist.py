"""Which rows an export reads: a declared dataset by name, or an admin changelist's rows, and
who may export them.

A changelist export clicked in the admin carries its rows as the live changelist gave them
(exports.datasets.capture): the worker runs that query as is, in the changelist's order. Where
no click exists (a schedule, Run again, a saved export, the API) the export keeps the
changelist's querystring and replays it through the ModelAdmin of the admin site the export
came from, for the runner, on a request rebuilt from what the original one carried
(exports.datasets.replay).
"""

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _

from exports.datasets import capture
from exports.datasets import display as admin_display
from exports.datasets.access import EXPORT_PERMISSION, may_export
from exports.datasets.base import Column, Dataset, view_permission
from exports.datasets.conditions import ConditionError, to_q
from exports.datasets.registry import UnknownDataset, get_dataset, registry
from exports.datasets.replay import (
    ADMIN_PREFIX,
    Context,
    model_admin_for,
    replayed_request,
    replaying,
    request_context,
)
from exports.datasets.sensitive import is_sensitive_name
from exports.i18n import later

# options["values"] = "display": the columns as the admin shows them; absent: raw values.
VALUES_OPTION = "values"
DISPLAY = "display"

__all__ = ["ADMIN_PREFIX", "EXPORT_PERMISSION", "request_context"]


def admin_dataset_name(model: type[models.Model]) -> str:
    return ADMIN_PREFIX + model._meta.label_lower


@dataclasses.dataclass(frozen=True)
class ChangelistDataset(Dataset):
    """A Dataset whose queryset is a ModelAdmin's changelist for one user: captured where the
    user clicked, else replayed from its querystring. Rows keep the changelist's order."""

    model_admin: Any = None
    user: Any = None
    querystring: str = ""
    context: Context = None  # request_context() of the request the export came from
    captured: capture.Capture | None = None

    def get_queryset(self) -> models.QuerySet:
        if self.captured is not None:
            return self.captured.queryset._chain()
        request = replayed_request(self.context, self.user, self.querystring)
        with replaying(f"{type(self.model_admin).__name__}'s changelist"):
            changelist = self.model_admin.get_changelist_instance(request)
            return changelist.get_queryset(request)

    def filtered(self, conditions: Any = None, limit: int | None = None) -> models.QuerySet:
        """The changelist's own order (its ordering ends with the key, so it is total). A
        capture already holds the ticked rows; a replay narrows to them here."""
        qs = self.get_queryset()
        if self.captured is None:
            qs = qs.filter(to_q(conditions, self.filters))
        return qs[:limit] if limit else qs

    def required_permissions(self) -> tuple[str, ...]:
        """The ModelAdmin decides about its own model (has_export_permission); the models
        its columns join to need view permission, unless a declared dataset says otherwise."""
        if self.permissions is not None:
            return tuple(self.permissions)
        return tuple(p for p in super().required_permissions() if p != view_permission(self.model))


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
        return self.rows_of(self.filtered(conditions, limit), chunk_size)

    def rows_of(self, queryset: models.QuerySet, chunk_size: int = 2000) -> Iterator[list[Any]]:
        """The rows of some of the changelist's rows (a key range: engine.parallel)."""
        items = [self.items[c.name] for c in self.columns]
        headings = [c.heading for c in self.columns]
        return admin_display.rows(self.model_admin, queryset, items, chunk_size, headings)


def live_only_columns(dataset: Dataset) -> list[str]:
    """The headings of the columns "as shown" that fail away from the live request (a
    callable reading a thread-local that changelist_view set), tried on the first row."""
    if not isinstance(dataset, DisplayDataset):
        return []
    model_admin = dataset.model_admin
    cells = [
        (c.heading, admin_display.cell(model_admin, dataset.items[c.name])) for c in dataset.columns
    ]
    return capture.cells_needing_the_page(dataset.filtered().first(), cells)


def as_displayed(dataset: ChangelistDataset) -> DisplayDataset:
    """The same changelist with list_display's columns, as get_list_display() gave them to
    this user (at the click, or on the replayed request); deny-listed fields stay out."""
    model_admin = dataset.model_admin
    if dataset.captured is not None:
        items = list(dataset.captured.display)
    else:
        request = replayed_request(dataset.context, dataset.user, dataset.querystring)
        with replaying(f"{type(model_admin).__name__}.get_list_display()"):
            items = list(model_admin.get_list_display(request))
    shown = admin_display.columns(model_admin, items, dataset.is_sensitive)
    same = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(ChangelistDataset)}
    return DisplayDataset(
        **same | {"columns": tuple(c for c, _ in shown), "items": {c.name: i for c, i in shown}}
    )


def shown_as_admin(options: Mapping[str, Any] | None) -> bool:
    return bool(options) and options.get(VALUES_OPTION) == DISPLAY


def default_columns(model: type[models.Model]) -> list[Column]:
    """Every concrete field except the deny-listed ones; foreign keys as their ids."""
    return [
        Column(f.attname, f.attname, str(f.verbose_name).capitalize())
        for f in model._meta.concrete_fields
        if not is_sensitive_name(f.name)
    ]


def configured_dataset(model_admin) -> Dataset:
    """What the ModelAdmin's export settles for every user: `export_dataset`'s columns and
    permissions, else `export_columns`, else the default columns. Secret or unknown columns
    are left out (and listed in `omitted`); UnknownDataset for a bad `export_dataset`."""
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
    return Dataset(
        name=getattr(model_admin, "export_dataset", "") or model._meta.model_name,
        title=str(model._meta.verbose_name_plural).capitalize(),
        model_label=model._meta.label,
        columns=tuple(columns),
        filters={"id": "pk"},
        permissions=permissions,
    )


def shown_fields(model_admin, request) -> set[str]:
    """The field names the admin shows the request's user: the change form's (fieldsets,
    fields or get_fields(request), minus exclude; readonly fields included), the changelist's
    columns, and the primary key every admin URL carries. A get_fieldsets() that cannot
    answer without a real object (it reads obj.pk, obj.user...) leaves the changelist's."""
    model = model_admin.model
    shown: set[Any] = set()
    # An unsaved instance asks for the change form (UserAdmin gives None its add form).
    for args in ((request, model()), (request,)):
        try:
            shown = set(flatten_fieldsets(model_admin.get_fieldsets(*args)))
            break
        except Exception:  # noqa: S112 - a host hook that needs a saved object: try the next
            continue
    with replaying(f"{type(model_admin).__name__}.get_list_display()"):
        shown.update(model_admin.get_list_display(request))
    return {name for name in shown if isinstance(name, str)} | {model._meta.pk.name}


def first_field(model: type[models.Model], path: str) -> str:
    """The name of the model's own field a path starts from (`user_id`, `user__name`: user)."""
    first = path.split("__")[0]
    if first == "pk":
        return model._meta.pk.name
    try:
        return model._meta.get_field(first).name
    except FieldDoesNotExist:
        return ""


def changelist_dataset(
    name: str,
    user,
    querystring: str,
    context: Context = None,
    captured: str | None = None,
) -> ChangelistDataset:
    """The ModelAdmin's export for `user`: never a field the admin hides from them (as the
    live request showed it when captured, else as a replayed request does)."""
    model_admin = model_admin_for(name, context)
    configured = configured_dataset(model_admin)
    snapshot = capture.loads(captured, model_admin) if captured else None
    if snapshot is not None:
        shown: set[str] = set(snapshot.fields)
    else:
        shown = shown_fields(model_admin, replayed_request(context, user))
    visible = [c for c in configured.columns if first_field(configured.model, c.source) in shown]
    return ChangelistDataset(
        **{f.name: getattr(configured, f.name) for f in dataclasses.fields(Dataset)}
        | {"columns": tuple(visible)},
        model_admin=model_admin,
        user=user,
        querystring=querystring,
        context=context,
        captured=snapshot,
    )


def why_not(user, name: str, context: Context = None, captured: str | None = None) -> str:
    """Why `user` may not export dataset `name` now; "" when they may. A captured changelist
    passed the ModelAdmin's has_export_permission() in the live request where it was
    captured; here only the user's own permissions are checked again.
    Raises UnknownDataset for a name that is neither declared nor an exporting ModelAdmin."""
    if not may_export(user):
        return _("You do not have permission to export data.")
    if name.startswith(ADMIN_PREFIX):
        model_admin = model_admin_for(name, context)
        if captured is None:
            request = replayed_request(context, user)
            with replaying(f"{type(model_admin).__name__}.has_export_permission()"):
                allowed = model_admin.has_export_permission(request)
            if not allowed:
                text = _("You do not have permission to export %(dataset)s.")
                return later(text, dataset=name.removeprefix(ADMIN_PREFIX))
        dataset: Dataset = changelist_dataset(name, user, "", context, captured)
    else:
        dataset = get_dataset(name)
    missing = [p for p in dataset.required_permissions() if not user.has_perm(p)]
    if missing:
        text = _("You do not have permission to export %(dataset)s: it needs %(permissions)s.")
        return later(text, dataset=dataset.title, permissions=", ".join(missing))
    return ""


def can_export(user, name: str, context: Context = None) -> bool:
    """May `user` export dataset `name` now? The one answer every entry point uses."""
    try:
        return not why_not(user, name, context)
    except UnknownDataset:
        return False


def exportable_datasets(user) -> list[Dataset]:
    """The declared datasets `user` may export, in declaration order."""
    return [d for d in registry.all() if can_export(user, d.name)]


def dataset_for(
    name: str,
    user,
    filters: dict[str, Any],
    columns: list[str] | None = None,
    *,
    display: bool = False,
):
    """The dataset an export reads, checked against the user's permissions right now.
    A changelist export's filters hold its querystring ("changelist"), the context of the
    request it came from ("request") and, when clicked in the admin, the captured changelist
    ("captured"); `display`: the changelist's columns as the admin shows them (see
    shown_as_admin).
    Raises PermissionDenied (with the reason), UnknownDataset or ConditionError."""
    context = filters.get("request")
    captured = filters.get(capture.KEY) if name.startswith(ADMIN_PREFIX) else None
    reason = why_not(user, name, context, captured)
    if reason:
        raise PermissionDenied(reason)
    if name.startswith(ADMIN_PREFIX):
        querystring = filters.get("changelist", "")
        dataset: Dataset = changelist_dataset(name, user, querystring, context, captured)
        if display:
            dataset = as_displayed(dataset)
    elif display:
        raise ConditionError(_("Only an admin changelist can be exported as the admin shows it."))
    else:
        dataset = get_dataset(name)
    return only_columns(dataset, columns) if columns else dataset


def only_columns(dataset: Dataset, names: list[str]) -> Dataset:
    by_name = {c.name: c for c in dataset.columns}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        text = _("Unknown column %(column)s for dataset %(dataset)s.")
        raise ConditionError(later(text, column=repr(unknown[0]), dataset=repr(dataset.name)))
    return dataclasses.replace(dataset, columns=tuple(by_name[n] for n in names))
