"""Which rows an export reads: a declared dataset by name, or an admin changelist's rows.

A changelist export stores the changelist's querystring (filters, search), never a list of
millions of ids, and the worker replays it through the ModelAdmin of the admin site the
export came from, for the requesting user, with a request rebuilt from what the original one
carried (request_context()), so the file holds exactly the rows that user's changelist showed.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.sites import all_sites
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, SuspiciousOperation
from django.db import models
from django.http import HttpRequest, QueryDict
from django.urls import get_resolver

from exports.conf import app_settings
from exports.datasets.base import SENSITIVE, Column, Dataset, UnknownDataset, get_dataset
from exports.datasets.conditions import ConditionError

ADMIN_PREFIX = "admin:"
EXPORT_PERMISSION = "exports.export_data"
DEFAULT_SITE = "admin"
# What a ModelAdmin may read from request.META: the host, never cookies, credentials or
# other headers.
META_KEYS = ("SERVER_NAME", "SERVER_PORT", "HTTP_HOST")

Context = Mapping[str, Any] | None


def admin_dataset_name(model: type[models.Model]) -> str:
    return ADMIN_PREFIX + model._meta.label_lower


@dataclasses.dataclass(frozen=True)
class ChangelistDataset(Dataset):
    """A Dataset whose queryset is a ModelAdmin's changelist for one user and querystring."""

    model_admin: Any = None
    user: Any = None
    querystring: str = ""
    context: Context = None  # request_context() of the request the export came from

    def get_queryset(self) -> models.QuerySet:
        request = replayed_request(self.context, self.user, self.querystring)
        try:
            changelist = self.model_admin.get_changelist_instance(request)
            return changelist.get_queryset(request)
        except (IncorrectLookupParameters, SuspiciousOperation) as exc:
            raise ConditionError(f"The admin refused these filters: {exc}") from exc


class ReplayedRequest(HttpRequest):
    """The original request as far as a ModelAdmin can tell."""

    def __init__(self, scheme: str = "http") -> None:
        super().__init__()
        self._scheme = scheme

    def _get_scheme(self) -> str:
        return self._scheme


def request_context(request: HttpRequest, site_name: str = DEFAULT_SITE) -> dict[str, Any]:
    """What the worker needs to rebuild `request` for the ModelAdmin, as JSON for the audit
    row: the admin site, path, scheme, host, and the middleware attributes named in
    EXPORTS_REQUEST_ATTRIBUTES (a model instance by label and pk, a plain value as itself)."""
    context: dict[str, Any] = {
        "site": site_name,
        "path": request.path,
        "scheme": request.scheme,
        "meta": {key: str(request.META[key]) for key in META_KEYS if key in request.META},
    }
    attrs = {}
    for name in app_settings.REQUEST_ATTRIBUTES:
        stored = to_json(getattr(request, name, None))
        if stored is not None:
            attrs[name] = stored
    if attrs:
        context["attrs"] = attrs
    return context


def to_json(value: Any) -> dict[str, Any] | None:
    if isinstance(value, models.Model) and value.pk is not None:
        pk = value.pk if isinstance(value.pk, int | str) else str(value.pk)
        return {"model": value._meta.label, "pk": pk}
    if isinstance(value, str | int | float | bool):
        return {"value": value}
    return None  # anything else cannot be carried faithfully: left out


def from_json(name: str, stored: Mapping[str, Any]) -> Any:
    if "model" not in stored:
        return stored.get("value")
    try:
        return apps.get_model(stored["model"])._default_manager.get(pk=stored["pk"])
    except (LookupError, ValueError, ObjectDoesNotExist):
        raise ConditionError(
            f"The request's {name} ({stored['model']} {stored['pk']}) no longer exists."
        ) from None


def replayed_request(context: Context, user, querystring: str = "") -> HttpRequest:
    """Never a bare request: what request_context() kept, for `user`, as a GET of the
    changelist with `querystring`."""
    context = context or {}
    request = ReplayedRequest(context.get("scheme", "http"))
    request.method = "GET"
    request.path = request.path_info = context.get("path", "/")
    request.META = {
        **context.get("meta", {}),
        "REQUEST_METHOD": "GET",
        "PATH_INFO": request.path_info,
        "QUERY_STRING": querystring,
    }
    request.GET = QueryDict(querystring)
    request.user = user
    request.current_app = context.get("site", DEFAULT_SITE)
    for name, stored in context.get("attrs", {}).items():
        setattr(request, name, from_json(name, stored))
    return request


def site_named(name: str):
    return next((site for site in all_sites if site.name == name), None)


def exporting_admin(label: str, context: Context):
    site = site_named((context or {}).get("site", DEFAULT_SITE))
    model_admin = site._registry.get(apps.get_model(label)) if site is not None else None
    return model_admin if hasattr(model_admin, "has_export_permission") else None


def model_admin_for(name: str, context: Context = None):
    """The ModelAdmin on the export's admin site, if it exports (ExportMixin or
    enable_export())."""
    label = name.removeprefix(ADMIN_PREFIX)
    try:
        model_admin = exporting_admin(label, context)
        if model_admin is None:
            # A worker has not imported the URLconf, where a host may build an admin site
            # or call enable_export(); a web process has, and this costs nothing there.
            get_resolver().url_patterns  # noqa: B018
            model_admin = exporting_admin(label, context)
    except (LookupError, ValueError):
        raise UnknownDataset(f"Unknown dataset {name!r}.") from None
    if model_admin is None:
        raise UnknownDataset(f"Unknown dataset {name!r}.")
    return model_admin


def default_columns(model: type[models.Model]) -> list[Column]:
    """Every concrete field except the deny-listed ones; foreign keys as their ids."""
    return [
        Column(f.attname, f.attname, str(f.verbose_name).capitalize())
        for f in model._meta.concrete_fields
        if not SENSITIVE.search(f.name)
    ]


def changelist_dataset(
    name: str, user, querystring: str, context: Context = None
) -> ChangelistDataset:
    model_admin = model_admin_for(name, context)
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
        context=context,
    )


def can_export(user, name: str, context: Context = None) -> bool:
    if user is None or not user.is_active or not user.has_perm(EXPORT_PERMISSION):
        return False
    if name.startswith(ADMIN_PREFIX):
        model_admin = model_admin_for(name, context)
        return model_admin.has_export_permission(replayed_request(context, user))
    return True


def dataset_for(name: str, user, filters: dict[str, Any], columns: list[str] | None = None):
    """The dataset an export reads, checked against the user's permissions right now.
    A changelist export's filters hold its querystring ("changelist") and the context of
    the request it came from ("request")."""
    context = filters.get("request")
    if not can_export(user, name, context):
        raise PermissionDenied("You do not have permission to export this data.")
    if name.startswith(ADMIN_PREFIX):
        querystring = filters.get("changelist", "")
        dataset: Dataset = changelist_dataset(name, user, querystring, context)
    else:
        dataset = get_dataset(name)
    return only_columns(dataset, columns) if columns else dataset


def only_columns(dataset: Dataset, names: list[str]) -> Dataset:
    by_name = {c.name: c for c in dataset.columns}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConditionError(f"Unknown column {unknown[0]!r} for dataset {dataset.name!r}.")
    return dataclasses.replace(dataset, columns=tuple(by_name[n] for n in names))
