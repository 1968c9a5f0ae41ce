"""The request a changelist is replayed with where no click exists to capture (a schedule,
Run again, a saved export, the API on a changelist; see datasets.capture for the click): what
the original request carried that a ModelAdmin may rely on (admin site, path, scheme, host,
middleware attributes such as `site` or `tenant`), kept as JSON with the export. It gets an
empty session and a message store that keeps nothing, and the host's EXPORTS_PREPARE_REQUEST
hook may add what its middleware would. Never cookies, session data, credentials or other
headers.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.sites import all_sites
from django.contrib.messages.storage.base import BaseStorage
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, SuspiciousOperation
from django.db import models
from django.http import HttpRequest, QueryDict
from django.urls import get_resolver
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from exports.conf import app_settings
from exports.datasets.conditions import ConditionError
from exports.datasets.registry import UnknownDataset
from exports.i18n import later

ADMIN_PREFIX = "admin:"
DEFAULT_SITE = "admin"
# What a ModelAdmin may read from request.META: the host, never cookies, credentials or
# other headers.
META_KEYS = ("SERVER_NAME", "SERVER_PORT", "HTTP_HOST")

Context = Mapping[str, Any] | None


class ReplayedRequest(HttpRequest):
    """The original request as far as a ModelAdmin can tell."""

    def __init__(self, scheme: str = "http") -> None:
        super().__init__()
        self._scheme = scheme

    def _get_scheme(self) -> str:
        return self._scheme


class DroppedMessages(BaseStorage):
    """messages.warning() from admin code (a get_search_results that warns) works on a
    replayed request; nobody is there to read it, so it is dropped."""

    def _get(self, *args: Any, **kwargs: Any) -> tuple[list, bool]:
        return [], True

    def _store(self, messages: list, response: Any, *args: Any, **kwargs: Any) -> list:
        return []


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
        text = _("The request's %(name)s (%(model)s %(pk)s) no longer exists.")
        raise ConditionError(
            later(text, name=name, model=stored["model"], pk=stored["pk"])
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
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    request._messages = DroppedMessages(request)
    for name, stored in context.get("attrs", {}).items():
        setattr(request, name, from_json(name, stored))
    prepare = app_settings.PREPARE_REQUEST
    if prepare:
        with replaying(later(_("The host's EXPORTS_PREPARE_REQUEST (%(path)s)"), path=prepare)):
            import_string(prepare)(request)
    return request


@contextmanager
def replaying(what: str) -> Iterator[None]:
    """Admin code run on a replayed request fails in words that say which code needed what,
    never as a traceback in a failed job."""
    try:
        yield
    except (IncorrectLookupParameters, SuspiciousOperation) as exc:
        raise ConditionError(
            later(_("The admin refused these filters: %(error)s"), error=exc)
        ) from exc
    except (ConditionError, PermissionDenied):
        raise
    except Exception as exc:
        text = _(
            "%(code)s failed on a replayed request (%(kind)s: %(error)s). This run has no "
            "live page to capture (a schedule, Run again, a saved export or the API); set "
            "EXPORTS_PREPARE_REQUEST to give the request what the admin code needs."
        )
        raise ConditionError(later(text, code=what, kind=type(exc).__name__, error=exc)) from exc


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
        raise UnknownDataset(later(_("Unknown dataset %(name)s."), name=repr(name))) from None
    if model_admin is None:
        raise UnknownDataset(later(_("Unknown dataset %(name)s."), name=repr(name)))
    return model_admin
