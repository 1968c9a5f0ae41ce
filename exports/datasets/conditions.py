"""A small filter language (seed 002) over allow-listed fields, turned into a Django Q.

{"col": "v"}                     col = 'v'
{"col": ["a", "b"]}              col IN ('a', 'b')
{"col": {"not": "v"}}            col != 'v'
{"col": {"gt": 1, "le": 9}}      col > 1 AND col <= 9   (also ge, lt, eq, in)
{"col": {"like": "%abc%"}}       col LIKE '%abc%'
{"a": 1, "b": 2}                 AND within an object
[{"a": 1}, {"b": 2}]             OR across a list

Values are JSON's: finite numbers, text without NUL, at most MAX_DEPTH levels of objects and
lists. Text that reads as a date-time with a UTC offset ("2026-06-09T00:00:00+02:00") is an
instant: its offset may be at most 14 hours (as every real zone's), it falls between the start
of FIRST_DAY and the end of LAST_DAY, and with USE_TZ = False it becomes the site's wall-clock
time, which is what Django then compares (SQLite and MySQL refuse an aware value outright).
The API checks each value against its field as well (exports.api.payloads.check_conditions).
"""

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from exports.clock import stored
from exports.i18n import later

COMPARISONS = {"eq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte", "in": "in"}
OPERATORS = sorted([*COMPARISONS, "not", "like"])
# Deeper than any real filter; far below the recursion a Q tree or json.dumps would hit.
MAX_DEPTH = 20
MAX_OFFSET = timedelta(hours=14)
# Days a filter may name: whole years well inside Python's calendar (0001-9999), so that the day
# after, or any offset, never runs off its end.
FIRST_DAY, LAST_DAY = date(1000, 1, 1), date(9998, 12, 31)


class ConditionError(ValueError):
    """A filter the dataset does not allow; the message names the culprit."""


def to_q(conditions: Any, fields: Mapping[str, str]) -> Q:
    """`fields` maps the names a request may use to ORM paths; nothing else gets through."""
    check_depth(conditions)
    if conditions is None or conditions == {}:
        return Q()
    if isinstance(conditions, list):
        if not conditions:
            raise ConditionError(_("An OR list of conditions must not be empty."))
        q = Q()
        for branch in conditions:
            if not isinstance(branch, dict):
                raise ConditionError(_("Each item of an OR list must be an object."))
            q |= _and(branch, fields)
        return q
    if isinstance(conditions, dict):
        return _and(conditions, fields)
    raise ConditionError(_("Conditions must be an object or a list of objects."))


def check_depth(conditions: Any) -> None:
    """Level by level, without recursing: a value nested thousands deep is refused before
    anything (Q, repr, json.dumps) recurses into it."""
    level = [conditions]
    for depth in range(MAX_DEPTH + 1):
        containers = [value for value in level if isinstance(value, dict | list)]
        if not containers:
            return
        if depth == MAX_DEPTH:
            text = _("Conditions may be nested at most %(depth)s levels deep.")
            raise ConditionError(later(text, depth=MAX_DEPTH))
        level = [c for v in containers for c in (v.values() if isinstance(v, dict) else v)]


def day_problem(day: date) -> str:
    """Why a filter may not name `day`, or ''."""
    if FIRST_DAY <= day <= LAST_DAY:
        return ""
    return later(_("days run from %(first)s to %(last)s"), first=FIRST_DAY, last=LAST_DAY)


def date_time_problem(value: datetime) -> str:
    """Why the database cannot be sent `value`, or '' (PostgreSQL refuses offsets past
    15:59; converting to UTC or the site's zone overflows at the ends of the calendar)."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        return _("its UTC offset is beyond ±14:00, farther than any time zone")
    try:
        day = (value.astimezone(UTC) if offset is not None else value).date()
    except OverflowError:
        day = date.max
    if FIRST_DAY <= day <= LAST_DAY + timedelta(days=1):  # up to the end of the last day
        return ""
    text = _("times run from %(first)s to the end of %(last)s")
    return later(text, first=FIRST_DAY, last=LAST_DAY)


def _and(conditions: dict[str, Any], fields: Mapping[str, str]) -> Q:
    q = Q()
    for name, value in conditions.items():
        if name not in fields:
            allowed = ", ".join(sorted(fields)) or _("none")
            text = _("Unknown filter field %(name)s; allowed: %(allowed)s.")
            raise ConditionError(later(text, name=repr(name), allowed=allowed))
        q &= _field(fields[name], name, value)
    return q


def _field(path: str, name: str, value: Any) -> Q:
    if isinstance(value, list):
        return Q(**{f"{path}__in": _values(name, value)})
    if not isinstance(value, dict):
        return Q(**{f"{path}__isnull": True}) if value is None else Q(**{path: _value(name, value)})
    if not value:
        text = _("Filter %(name)s has an empty set of operators.")
        raise ConditionError(later(text, name=repr(name)))
    q = Q()
    for op, operand in value.items():
        if op in COMPARISONS:
            if op == "in" and not isinstance(operand, list):
                raise ConditionError(
                    later(_("Filter %(name)s: 'in' needs a list."), name=repr(name))
                )
            q &= Q(**{f"{path}__{COMPARISONS[op]}": _values(name, operand)})
        elif op == "not":
            q &= ~_field(path, name, operand)
        elif op == "like":
            q &= _like(path, name, operand)
        else:
            text = _("Unknown operator %(op)s on filter %(name)s; allowed: %(allowed)s.")
            allowed = ", ".join(OPERATORS)
            raise ConditionError(later(text, op=repr(op), name=repr(name), allowed=allowed))
    return q


def _values(name: str, value: Any) -> Any:
    return [_value(name, v) for v in value] if isinstance(value, list) else _value(name, value)


def _value(name: str, value: Any) -> Any:
    """A value as the database can be sent it; ConditionError naming the filter otherwise
    (before, these failed in the database, or in Python past any check: a 500)."""
    if isinstance(value, float) and not math.isfinite(value):
        # json.loads reads NaN, Infinity and 1e400 (as inf): no column holds them.
        text = _("Filter %(name)s: %(value)s is not a finite number.")
        raise ConditionError(later(text, name=repr(name), value=value))
    if not isinstance(value, str):
        return value
    _check_text(name, value)
    moment = _date_time(value)
    if moment is None:
        return value
    problem = date_time_problem(moment)
    if problem:
        text = _("Filter %(name)s: %(value)s cannot be used: %(problem)s.")
        raise ConditionError(later(text, name=repr(name), value=repr(value), problem=problem))
    return value if settings.USE_TZ else stored(moment).isoformat()


def _check_text(name: str, text: str) -> None:
    """PostgreSQL refuses NUL in text; a lone surrogate (JSON's "\\ud800") has no UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        text = _("Filter %(name)s: the text holds a lone surrogate.")
        raise ConditionError(later(text, name=repr(name))) from None
    if "\x00" in text:
        text = _("Filter %(name)s: the text holds a NUL character.")
        raise ConditionError(later(text, name=repr(name)))


def _date_time(text: str) -> datetime | None:
    """An aware date-time as Django's DateTimeField reads `text`, else None."""
    try:
        moment = parse_datetime(text)
    except ValueError:  # well formed, but no such time (month 13)
        return None
    return moment if moment is not None and moment.utcoffset() is not None else None


def _like(path: str, name: str, pattern: Any) -> Q:
    if not isinstance(pattern, str):
        text = _("Filter %(name)s: 'like' needs a string pattern.")
        raise ConditionError(later(text, name=repr(name)))
    _check_text(name, pattern)
    inner = pattern.strip("%")
    if "%" not in inner and "_" not in inner:
        starts, ends = pattern.startswith("%"), pattern.endswith("%")
        lookup = {
            (True, True): "contains",
            (False, True): "startswith",
            (True, False): "endswith",
            (False, False): "exact",
        }[(starts, ends)]
        if lookup == "exact":  # compared as the field's type, like any other value
            return Q(**{f"{path}__exact": _value(name, inner)})
        return Q(**{f"{path}__{lookup}": inner})
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return Q(**{f"{path}__regex": f"^{regex}$"})
