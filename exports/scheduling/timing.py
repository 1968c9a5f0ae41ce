"""When a schedule runs next, in the site's time zone (settings.TIME_ZONE), DST-safe.

Daily, weekly and cron times are wall-clock times: "Monday 07:00" stays 07:00 local across a
change of offset. A wall time that does not exist (the hour skipped in spring) runs at the
same distance past the change (02:30 -> 03:30); a wall time that happens twice (the hour
repeated in autumn) runs once, at its first occurrence. Hourly intervals are absolute: every
N hours of elapsed time, whatever the clock says.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext, gettext_lazy, ngettext

from exports.clock import aware, stored
from exports.scheduling.cron import Cron, CronError, parse

# How far ahead to look for a matching day: "29 February, a Monday" happens within 28 years.
HORIZON_DAYS = 366 * 28


def site_zone() -> ZoneInfo:
    zone = timezone.get_default_timezone()
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))


def at_wall_time(day: date, clock: time_of_day, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in `zone` shows `clock` on `day` (see the module docstring)."""
    naive = datetime.combine(day, clock.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Timing:
    kind: str  # interval | weekly | cron
    every: int = 1
    unit: str = "days"  # hours | days
    weekdays: tuple[int, ...] = ()  # 0 = Monday
    at_time: time_of_day = time_of_day(7, 0)
    cron: str = ""
    starts_at: datetime | None = None

    @classmethod
    def of(cls, schedule) -> "Timing":
        return cls(
            kind=schedule.kind,
            every=schedule.every or 1,
            unit=schedule.unit,
            weekdays=tuple(int(d) for d in schedule.weekdays or ()),
            at_time=schedule.at_time,
            cron=schedule.cron,
            starts_at=schedule.starts_at,
        )

    @property
    def start(self) -> datetime | None:
        """starts_at as an instant (naive under USE_TZ = False: the site's wall clock)."""
        return aware(self.starts_at) if self.starts_at else None

    def next_after(self, after: datetime, zone: ZoneInfo | None = None) -> datetime:
        """The first run strictly after `after` (and not before starts_at), as an aware
        instant; a naive `after` is read as the site's wall clock."""
        zone = zone or site_zone()
        after = aware(after)
        if self.start and after < self.start:
            after = self.start - timedelta(microseconds=1)
        if self.kind == "interval" and self.unit == "hours":
            return self._every_hours(after)
        if self.kind == "interval":
            return self._every_days(after, zone)
        if self.kind == "weekly":
            days = frozenset(self.weekdays)
            return first_after(after, zone, lambda d: d.weekday() in days, [self.at_time])
        if self.kind == "cron":
            return cron_after(parse(self.cron), after, zone)
        raise ValueError(f"Unknown schedule kind {self.kind!r}.")

    def upcoming(self, after: datetime, count: int = 3) -> list[datetime]:
        """The next `count` runs after `after`: what the schedule form shows before saving,
        so that a person sees what a cron line or a start date means."""
        runs: list[datetime] = []
        for _ in range(count):
            after = self.next_after(after)
            runs.append(after)
        return runs

    def _every_hours(self, after: datetime) -> datetime:
        anchor = self.start or after
        period = timedelta(hours=self.every)
        if after < anchor:
            return anchor
        return anchor + period * ((after - anchor) // period + 1)

    def _every_days(self, after: datetime, zone: ZoneInfo) -> datetime:
        first = (self.start or after).astimezone(zone).date()
        return first_after(
            after, zone, lambda d: (d - first).days % self.every == 0, [self.at_time]
        )

    def shortest_gap(self) -> timedelta:
        """The least time between two runs on the wall clock (an hour more or less at a change
        of offset aside): what EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES is checked against."""
        if self.kind == "interval":
            return timedelta(**{self.unit: self.every})
        if self.kind == "weekly":
            days = frozenset(self.weekdays)
            return smallest_gap(lambda d: d.weekday() in days, [self.at_time])
        if self.kind == "cron":
            cron = parse(self.cron)
            return smallest_gap(cron.matches_day, cron_clocks(cron))
        raise ValueError(f"Unknown schedule kind {self.kind!r}.")

    def describe(self) -> str:
        """What people read on My downloads and in the admin."""
        values = {"count": self.every, "time": f"{self.at_time:%H:%M}"}
        if self.kind == "interval" and self.unit == "hours":
            return ngettext("every hour", "every %(count)s hours", self.every) % values
        if self.kind == "interval":
            text = ngettext("every day at %(time)s", "every %(count)s days at %(time)s", self.every)
            return text % values
        if self.kind == "weekly":
            days = ", ".join(str(WEEKDAY_NAMES[d]) for d in sorted(self.weekdays))
            names = days or gettext("no day")
            return gettext("weekly on %(days)s at %(time)s") % {**values, "days": names}
        return gettext("cron %(expression)s") % {"expression": self.cron}


# Django's own abbreviations (Mon … Sun), translated by Django's catalogues.
WEEKDAY_NAMES = [WEEKDAYS_ABBR[day] for day in range(7)]


def first_after(after, zone, day_matches, clocks) -> datetime:
    """The first wall time `clocks` on a matching day, as an instant strictly after `after`.
    Starts a day early: a wall time on the previous local date may still lie ahead."""
    start = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(HORIZON_DAYS):
        day = start + timedelta(days=offset)
        if not day_matches(day):
            continue
        for clock in clocks:
            when = at_wall_time(day, clock, zone)
            if when > after:
                return when
    raise CronError(
        gettext_lazy("This schedule never runs: no day in the next 28 years matches it.")
    )


def cron_clocks(cron: Cron) -> list[time_of_day]:
    return [time_of_day(h, m) for h in cron.hours for m in cron.minutes]


def cron_after(cron: Cron, after: datetime, zone: ZoneInfo) -> datetime:
    return first_after(after, zone, cron.matches_day, cron_clocks(cron))


# Days looked at for the closest two matching days: eight years hold two leap days, and
# every pattern of months and weekdays.
GAP_SCAN_DAYS = 366 * 8
GAP_SCAN_FROM = date(2000, 1, 1)


def smallest_gap(day_matches, clocks) -> timedelta:
    """The least time between two runs at `clocks` on the days that match: within a day,
    or from the last run of a day to the first of the next matching day."""
    minutes = sorted({c.hour * 60 + c.minute for c in clocks})
    gaps = [later - earlier for earlier, later in pairwise(minutes)]
    days = [n for n in range(GAP_SCAN_DAYS) if day_matches(GAP_SCAN_FROM + timedelta(days=n))]
    day_gaps = [later - earlier for earlier, later in pairwise(days)]
    if minutes and day_gaps:
        gaps.append(min(day_gaps) * 24 * 60 - (minutes[-1] - minutes[0]))
    return timedelta(minutes=min(gaps)) if gaps else timedelta(days=GAP_SCAN_DAYS)


def next_run_time(schedule, after: datetime | None = None) -> datetime:
    """As the schedule's next_run_at holds it (the site's wall clock under USE_TZ = False)."""
    return stored(Timing.of(schedule).next_after(after or timezone.now()))
