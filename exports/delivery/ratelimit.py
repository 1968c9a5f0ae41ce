"""Per-user rate limits shared by every web process: a fixed one-minute window counted in the
database, one atomic statement per counted request, no cache. Two counters use it: downloads
(DownloadCounter: the web's and the API's file downloads, token or session alike) and API calls
made with a browser session (ApiRequestCounter; a token's calls are counted on the token).

The download views count a request only once they know the file is the user's own and can be
served: requests for unknown or foreign ids (a hostile page full of download links) cost
nothing and cannot lock anyone out."""

import time
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext

from exports.clock import stored
from exports.conf import app_settings
from exports.models import ApiRequestCounter, DownloadCounter

WINDOW = 60
Counter = type[DownloadCounter] | type[ApiRequestCounter]
# Each counter's limit: the name of its setting.
LIMITS: dict[Counter, str] = {
    DownloadCounter: "DOWNLOADS_PER_MINUTE",
    ApiRequestCounter: "API_REQUESTS_PER_MINUTE",
}


def upsert(user_id, window_start: datetime, counter: Counter = DownloadCounter) -> int:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING: one statement, so concurrent requests
    each see their own count (PostgreSQL, SQLite >= 3.35)."""
    table = connection.ops.quote_name(counter._meta.db_table)
    user, start, count = (
        connection.ops.quote_name(c) for c in ("user_id", "window_start", "count")
    )
    # Quoted names from the model's own meta; the values are parameters.
    sql = (
        f"INSERT INTO {table} ({user}, {start}, {count}) VALUES (%s, %s, 1) "  # noqa: S608
        f"ON CONFLICT ({user}, {start}) DO UPDATE SET {count} = {table}.{count} + 1 "
        f"RETURNING {count}"
    )
    # A raw statement: values as the fields would store them (a UUID key is text on SQLite).
    fields = counter._meta
    params = [
        fields.get_field("user").target_field.get_db_prep_value(user_id, connection),
        fields.get_field("window_start").get_db_prep_value(window_start, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def update_or_insert(user_id, window_start: datetime, counter: Counter = DownloadCounter) -> int:
    """Other databases: in one transaction, an F() increment (which locks the row until
    commit, so the read after it is this request's own count), else create; losing the race
    to create retries the increment."""
    mine = counter.objects.filter(user_id=user_id, window_start=window_start)
    with transaction.atomic():
        if not mine.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    counter.objects.create(user_id=user_id, window_start=window_start, count=1)
            except IntegrityError:
                mine.update(count=F("count") + 1)
        return mine.values_list("count", flat=True).get()


def bump(user_id, window_start: datetime, counter: Counter = DownloadCounter) -> int:
    features = connection.features
    if connection.vendor in ("postgresql", "sqlite") and features.can_return_rows_from_bulk_insert:
        return upsert(user_id, window_start, counter)
    return update_or_insert(user_id, window_start, counter)


def hit(user_id, now: float | None = None, counter: Counter = DownloadCounter) -> int:
    """Count one request (a download by default); 0 when allowed, else the seconds until the
    window resets."""
    limit = getattr(app_settings, LIMITS[counter])
    if not limit:
        return 0
    now = time.time() if now is None else now
    window = int(now // WINDOW) * WINDOW
    if bump(user_id, stored(datetime.fromtimestamp(window, tz=UTC)), counter) <= limit:
        return 0
    return max(1, int(window + WINDOW - now))


def forget_old_windows(now: datetime) -> int:
    """The purge's part: counters of windows that ended are of no use."""
    ended = now - timedelta(seconds=WINDOW)
    return sum(counter.objects.filter(window_start__lt=ended).delete()[0] for counter in LIMITS)


def too_many(retry_after: int) -> HttpResponse:
    limit = app_settings.DOWNLOADS_PER_MINUTE
    text = gettext("Too many downloads: at most %(limit)s a minute. Try again in %(wait)s seconds.")
    response = HttpResponse(
        text % {"limit": limit, "wait": retry_after},
        status=429,
        content_type="text/plain",
    )
    response["Retry-After"] = str(retry_after)
    patch_cache_control(response, private=True, no_store=True)
    return response


def refused(user_id) -> HttpResponse | None:
    """Count this download; the 429 to answer when it is one too many, else None."""
    wait = hit(user_id)
    return too_many(wait) if wait else None
