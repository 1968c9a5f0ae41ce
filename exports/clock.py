"""Times that work whether the host sets USE_TZ or not. Imports nothing of Exportdesk's, so
every layer may use it.

With USE_TZ = False Django hands out naive datetimes holding the wall-clock time of
settings.TIME_ZONE, and wants them back that way (SQLite and MySQL refuse aware values then);
django.utils.timezone.localtime() refuses them. These helpers read a naive value as Django
does, a wall-clock time in the site's zone, and give each caller the kind it needs.
"""

from datetime import UTC, date, datetime, time

from django.conf import settings
from django.utils import timezone


def aware(value: datetime) -> datetime:
    """The instant `value` stands for: a naive one is the site's wall-clock time."""
    if timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_default_timezone())


def local(value: datetime) -> datetime:
    """The wall-clock time to show a person: in the current zone when aware, as it is when
    naive (it already is one)."""
    return timezone.localtime(value) if timezone.is_aware(value) else value


def utc(value: datetime) -> datetime:
    """For text that says "UTC" whatever the host's setting."""
    return aware(value).astimezone(UTC)


def stored(value: datetime) -> datetime:
    """`value` as a DateTimeField holds it: aware with USE_TZ, the site's wall-clock time
    without (so that comparing it with values read back never mixes the two kinds)."""
    if settings.USE_TZ:
        return aware(value)
    if timezone.is_naive(value):
        return value
    return timezone.make_naive(value, timezone.get_default_timezone())


def midnight(day: date) -> datetime:
    """The start of `day` in the current zone, as a filter on a DateTimeField takes it."""
    start = datetime.combine(day, time.min)
    return timezone.make_aware(start) if settings.USE_TZ else start
