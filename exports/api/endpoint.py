"""The one wrapper every API view goes through: method, authentication and rate limit, body
size, CSRF, and the translation of every error into a problem response (never a traceback)."""

import functools
import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from exports.api.auth import authenticate
from exports.api.problems import ApiError, from_error, problem
from exports.conf import app_settings
from exports.datasets.conditions import ConditionError
from exports.formats import MissingDependency, UnknownFormat
from exports.jobs.accept import ExportRefused

log = logging.getLogger(__name__)
View = Callable[..., HttpResponse]


def endpoint(*methods: str, public: bool = False) -> Callable[[View], View]:
    """`public` endpoints (the OpenAPI document) need no authentication."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    text = _("%(method)s is not allowed here; use %(methods)s.")
                    raise ApiError(
                        405,
                        text % {"method": request.method, "methods": ", ".join(methods)},
                        headers={"Allow": ", ".join(methods)},
                    )
                if not public:
                    authenticate(request)
                refuse_large_body(request)
                response = view(request, *args, **kwargs)
            except Exception as exc:
                response = problem_for(exc, request)
            patch_cache_control(response, private=True, no_store=True)
            return response

        # CSRF is checked by authenticate() for session requests only, as a problem response.
        return csrf_exempt(wrapped)

    return decorate


def refuse_large_body(request: HttpRequest) -> None:
    """Judged from Content-Length before a byte of the body is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, _("The Content-Length header is not a number.")) from None
    limit = app_settings.API_MAX_BODY_BYTES
    if length > limit:
        text = _("The request body is %(length)s bytes; at most %(limit)s are accepted.")
        raise ApiError(413, text % {"length": length, "limit": limit}, "too_large")


def problem_for(exc: Exception, request: HttpRequest) -> HttpResponse:
    instance = request.path
    if isinstance(exc, ApiError):
        return from_error(exc, instance)
    for kinds, status, code in KNOWN:
        if isinstance(exc, kinds):
            # Http404's own text names models ("No ExportAudit matches..."): not for callers.
            detail = "" if isinstance(exc, Http404) else str(exc)
            return problem(status, detail or DEFAULT_DETAIL[status], code, instance=instance)
    log.exception("API %s %s failed", request.method, request.path)
    detail = _("Something went wrong on our side; it has been logged.")
    return problem(500, detail, instance=instance)


KNOWN: list[tuple[type[Exception] | tuple[type[Exception], ...], int, str]] = [
    (ConditionError, 400, "bad_filter"),
    (UnknownFormat, 400, "unknown_format"),
    (PermissionDenied, 403, "forbidden"),
    (Http404, 404, "not_found"),
    (ExportRefused, 409, "refused"),
    (RequestDataTooBig, 413, "too_large"),
    (MissingDependency, 503, "missing_dependency"),
]
DEFAULT_DETAIL = {
    400: gettext_lazy("The request is not valid."),
    403: gettext_lazy("You do not have permission to do this."),
    404: gettext_lazy("Not found."),
    409: gettext_lazy("The export cannot be accepted now."),
    413: gettext_lazy("The request body is too large."),
    503: gettext_lazy("A library this format needs is not installed."),
}
