"""Who is calling: a personal bearer token, or the browser's session (then with CSRF).

A token request carries its credential in a header no other site can make a browser send, so
it needs no CSRF check; a request authenticated by its session cookie gets the same check as
any form post. A token acts as its owner with the owner's permissions at the moment of the
request, and stops working when the owner is deactivated (exports.api.revocation also revokes
it then, and when the owner's password changes).

Calls are limited to EXPORTS_API_REQUESTS_PER_MINUTE: per token for token calls, per user for
session calls (counted once the CSRF check has passed, so a hostile page posting with the
user's cookie cannot use up their allowance).
"""

import math
import time

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.translation import gettext

from exports.api.problems import ApiError, Unauthorized
from exports.conf import app_settings
from exports.delivery import ratelimit
from exports.models import ApiRequestCounter, ApiToken

WINDOW = 60


def authenticate(request: HttpRequest) -> None:
    """Sets request.user (and request.api_token for token requests) or raises ApiError."""
    request.api_token = None
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        token = token_from(header)
        request.user = token.owner
        request.api_token = token
        refuse_too_many(count_request(token), per_token=True)
        return
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise Unauthorized(
            gettext(
                "Authentication required: send 'Authorization: Bearer <token>' "
                "(create a token on your API tokens page)."
            ),
            error="",
        )
    reason = csrf_failure(request)
    if reason:
        raise ApiError(
            403, gettext("CSRF check failed: %(reason)s") % {"reason": reason}, "csrf_failed"
        )
    refuse_too_many(ratelimit.hit(user.pk, counter=ApiRequestCounter), per_token=False)


def refuse_too_many(wait: int, per_token: bool) -> None:
    """`wait`: 0 when the request is allowed, else the seconds until the window turns."""
    if wait:
        if per_token:
            text = gettext(
                "Too many requests: at most %(most)s a minute per token. Try again in "
                "%(wait)s seconds."
            )
        else:
            text = gettext(
                "Too many requests: at most %(most)s a minute per user. Try again in "
                "%(wait)s seconds."
            )
        raise ApiError(
            429,
            text % {"most": app_settings.API_REQUESTS_PER_MINUTE, "wait": wait},
            headers={"Retry-After": str(wait)},
        )


def token_from(header: str) -> ApiToken:
    """Never echoes the header: whatever it holds may be a secret."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        detail = gettext("Use 'Authorization: Bearer <token>'.")
        raise Unauthorized(detail, error="invalid_request")
    value = value.strip()
    match = ApiToken.FORMAT.fullmatch(value)
    token = (
        ApiToken.objects.select_related("owner").filter(prefix=match[1]).first() if match else None
    )
    if token is None or not token.matches(value):
        raise Unauthorized(gettext("The token is not valid."))
    if not token.owner.is_active:  # first: the reason that holds for all their tokens
        raise Unauthorized(gettext("The token's user account is inactive."))
    if token.revoked_at is not None:
        if token.revoked_reason:
            detail = gettext("The token %(hint)s was revoked (%(reason)s).")
        else:
            detail = gettext("The token %(hint)s was revoked.")
        raise Unauthorized(detail % {"hint": token.hint, "reason": token.revoked_reason})
    if token.is_expired():
        raise Unauthorized(gettext("The token %(hint)s has expired.") % {"hint": token.hint})
    return token


def count_request(token: ApiToken, now: float | None = None) -> int:
    """One UPDATE per request both counts it in the token's current minute and records the
    token as used; 0 when the request is allowed, else the seconds until the window turns."""
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    mine = ApiToken.objects.filter(pk=token.pk)
    with transaction.atomic():  # the row stays locked until our count is read back
        mine.update(
            rate_count=Case(When(rate_window=window, then=F("rate_count") + 1), default=Value(1)),
            rate_window=window,
            last_used_at=timezone.now(),
        )
        count = mine.values_list("rate_count", flat=True).get()
    limit = app_settings.API_REQUESTS_PER_MINUTE
    if not limit or count <= limit:
        return 0
    return max(1, math.ceil((window + 1) * WINDOW - now))


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Django's own CSRF check, answering with the reason instead of an HTML page."""
    check = _CsrfCheck(lambda request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})
