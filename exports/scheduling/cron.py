"""A small parser for five-field cron expressions (minute hour day-of-month month day-of-week).

Supports `*`, numbers, names (jan-dec, sun-sat), ranges `a-b`, steps `*/n` and `a-b/n`, lists,
and @hourly/@daily/@weekly/@monthly/@yearly. As in Vixie cron, when both day fields are
restricted a day matches if either does. Written here rather than adding croniter: it is all
a schedule needs, and the design keeps the dependency list short.
"""

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy

from exports.i18n import later

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# (name, lowest, highest, names that stand for numbers starting at `lowest`)
FIELDS = [  # the names only ever go into messages
    (gettext_lazy("minute"), 0, 59, []),
    (gettext_lazy("hour"), 0, 23, []),
    (gettext_lazy("day of month"), 1, 31, []),
    (gettext_lazy("month"), 1, 12, MONTHS),
    (gettext_lazy("day of week"), 0, 7, DAYS),
]


class CronError(ValueError):
    """The expression is not valid cron; the message says which field and why."""


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is `*`
    any_weekday: bool  # day of week is `*`

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday
        return by_date or by_weekday


def parse(expression: str) -> Cron:
    text = ALIASES.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) != 5:
        text = gettext_lazy(
            "A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            "%(expression)s has %(count)s."
        )
        raise CronError(later(text, expression=repr(expression), count=len(parts)))
    values = [parse_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = values
    return Cron(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(d % 7 for d in weekdays),
        any_day=parts[2] in ("*", "?"),
        any_weekday=parts[4] in ("*", "?"),
    )


def parse_field(text: str, name: str, low: int, high: int, names: list[str]) -> set[int]:
    result: set[int] = set()
    for item in text.lower().split(","):
        result |= parse_item(item, name, low, high, names)
    return result


def parse_item(item: str, name: str, low: int, high: int, names: list[str]) -> set[int]:
    spec, _, step_text = item.partition("/")
    step = number(step_text, name) if step_text else 1
    if step < 1:
        text = gettext_lazy("The step in the %(field)s field must be at least 1, not %(step)s.")
        raise CronError(later(text, field=name, step=step))
    if spec in ("*", "?"):
        first, last = low, high
    elif "-" in spec:
        start, _, end = spec.partition("-")
        first, last = value(start, name, low, high, names), value(end, name, low, high, names)
        if first > last:
            text = gettext_lazy("The range %(range)s in the %(field)s field runs backwards.")
            raise CronError(later(text, range=repr(spec), field=name))
    else:
        first = value(spec, name, low, high, names)
        last = high if step_text else first
    return set(range(first, last + 1, step))


def value(text: str, name: str, low: int, high: int, names: list[str]) -> int:
    if text in names:
        return low + names.index(text)
    found = number(text, name)
    if not low <= found <= high:
        text = gettext_lazy("%(value)s is outside the %(field)s field's %(low)s-%(high)s.")
        raise CronError(later(text, value=found, field=name, low=low, high=high))
    return found


def number(text: str, name: str) -> int:
    """ASCII digits only: str.isdigit() also accepts "²", which int() then refuses."""
    if not (text.isascii() and text.isdigit()):
        message = gettext_lazy("%(text)s is not a number or a name in the %(field)s field.")
        raise CronError(later(message, text=repr(text), field=name))
    return int(text)
