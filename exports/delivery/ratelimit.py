"""A per-user download rate limit shared by every web process (a fixed one-minute window in
the cache alias EXPORTS_RATELIMIT_CACHE, a database cache by default)."""

import functools
import time
from collections.abc import Callable

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from exports.conf import app_settings

WINDOW = 60


def hit(user_id, now: float | None = None) -> int:
    """Count one download; 0 when allowed, else the seconds until the window resets."""
    limit = app_settings.DOWNLOADS_PER_MINUTE
    if not limit:
        return 0
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    cache = caches[app_settings.RATELIMIT_CACHE]
    key = f"exports:downloads:{user_id}:{window}"
    cache.add(key, 0, timeout=2 * WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=2 * WINDOW)
        count = 1
    if count <= limit:
        return 0
    return max(1, int((window + 1) * WINDOW - now))


def too_many(retry_after: int) -> HttpResponse:
    limit = app_settings.DOWNLOADS_PER_MINUTE
    response = HttpResponse(
        f"Too many downloads: at most {limit} a minute. Try again in {retry_after} seconds.",
        status=429,
        content_type="text/plain",
    )
    response["Retry-After"] = str(retry_after)
    patch_cache_control(response, private=True, no_store=True)
    return response


def rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wait = hit(request.user.pk)
        if wait:
            return too_many(wait)
        return view(request, *args, **kwargs)

    return wrapped
