"""RFC 9457 problem details: every error the API answers is `application/problem+json` with a
sentence for people in `detail` and a stable `code` for programs. `title` and `detail` are in
the request's language (Accept-Language, through LocaleMiddleware); `code` never changes."""

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _

PROBLEM_JSON = "application/problem+json"
# The status phrases the API answers with, translatable (RFC 9457 lets `title` be localised).
TITLES = {
    400: _("Bad Request"),
    401: _("Unauthorized"),
    403: _("Forbidden"),
    404: _("Not Found"),
    405: _("Method Not Allowed"),
    409: _("Conflict"),
    410: _("Gone"),
    413: _("Request Entity Too Large"),
    415: _("Unsupported Media Type"),
    422: _("Unprocessable Entity"),
    429: _("Too Many Requests"),
    500: _("Internal Server Error"),
    503: _("Service Unavailable"),
}


def title(status: int) -> str:
    return str(TITLES.get(status, HTTPStatus(status).phrase))


class ApiError(Exception):
    """Raised anywhere below a view; the endpoint wrapper turns it into a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str = "",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
        self.headers = headers or {}
        self.extensions = extensions


class Unauthorized(ApiError):
    """401 with the challenge RFC 6750 asks for, so clients know to send a bearer token."""

    def __init__(self, detail: str, error: str = "invalid_token") -> None:
        challenge = 'Bearer realm="exports"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(401, detail, "unauthorized", {"WWW-Authenticate": challenge})


def problem(
    status: int,
    detail: str,
    code: str = "",
    headers: dict[str, str] | None = None,
    instance: str = "",
    **extensions: Any,
) -> HttpResponse:
    body = {
        "type": "about:blank",
        "title": title(status),
        "status": status,
        "detail": str(detail),
        "code": code or HTTPStatus(status).phrase.lower().replace(" ", "_"),
        **({"instance": instance} if instance else {}),
        **extensions,
    }
    response = JsonResponse(body, status=status, content_type=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def from_error(error: ApiError, instance: str = "") -> HttpResponse:
    return problem(
        error.status, error.detail, error.code, error.headers, instance, **error.extensions
    )
