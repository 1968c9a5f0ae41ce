"""When schedules run next: cron parsing, intervals, weekly times, and the two DST changes."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from exports.scheduling.cron import CronError, parse
from exports.scheduling.timing import Timing

LONDON = ZoneInfo("Europe/London")  # 2026: clocks go forward 29 March 01:00, back 25 October


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(when: datetime) -> str:
    return when.astimezone(LONDON).strftime("%Y-%m-%d %H:%M %Z")


def runs(timing: Timing, after: datetime, count: int) -> list[str]:
    found = []
    for _ in range(count):
        after = timing.next_after(after, LONDON)
        found.append(local(after))
    return found


def test_cron_fields_accept_lists_ranges_steps_and_names():
    cron = parse("*/15 9-17/4 1,15 jan-mar mon-fri")
    assert cron.minutes == (0, 15, 30, 45)
    assert cron.hours == (9, 13, 17)
    assert cron.days == {1, 15}
    assert cron.months == {1, 2, 3}
    assert cron.weekdays == {1, 2, 3, 4, 5}


def test_cron_treats_7_as_sunday_and_knows_the_aliases():
    assert parse("0 0 * * 7").weekdays == {0}
    assert parse("@weekly") == parse("0 0 * * 0")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "has 4"),
        ("60 * * * *", "60 is outside the minute field's 0-59"),
        ("* * * foo *", "'foo' is not a number or a name in the month field"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "at least 1"),
    ],
)
def test_bad_cron_is_refused_with_the_field_named(expression, message):
    with pytest.raises(CronError, match=message):
        parse(expression)


def test_cron_day_fields_match_either_when_both_are_given():
    timing = Timing("cron", cron="0 12 13 * fri")  # the 13th, and every Friday
    assert runs(timing, utc(2026, 2, 1), 3) == [
        "2026-02-06 12:00 GMT",
        "2026-02-13 12:00 GMT",
        "2026-02-20 12:00 GMT",
    ]


def test_a_cron_that_never_matches_says_so():
    with pytest.raises(CronError, match="never runs"):
        Timing("cron", cron="0 0 30 2 *").next_after(utc(2026, 1, 1), LONDON)


def test_weekly_keeps_its_local_time_across_spring_forward():
    timing = Timing("weekly", weekdays=(0,), at_time=time(7, 0))  # Mondays 07:00
    found = [timing.next_after(utc(2026, 3, 20), LONDON)]
    found.append(timing.next_after(found[0], LONDON))
    assert [local(f) for f in found] == ["2026-03-23 07:00 GMT", "2026-03-30 07:00 BST"]
    assert [f.hour for f in found] == [7, 6], "the same wall time, an hour earlier in UTC"


def test_a_time_skipped_in_spring_runs_once_just_after_the_change():
    timing = Timing("interval", every=1, unit="days", at_time=time(1, 30))
    timing = Timing(**{**timing.__dict__, "starts_at": utc(2026, 3, 1)})
    assert runs(timing, utc(2026, 3, 27, 12), 4) == [
        "2026-03-28 01:30 GMT",
        "2026-03-29 02:30 BST",  # 01:30 did not exist that night
        "2026-03-30 01:30 BST",
        "2026-03-31 01:30 BST",
    ]


def test_a_time_repeated_in_autumn_runs_once():
    timing = Timing("cron", cron="30 1 * * *")
    found = runs(timing, utc(2026, 10, 24, 12), 2)
    assert found == ["2026-10-25 01:30 BST", "2026-10-26 01:30 GMT"]
    every_half_hour = Timing("cron", cron="*/30 * * * *")
    night = runs(every_half_hour, utc(2026, 10, 24, 22, 45), 5)  # 23:45 BST
    assert night == [
        "2026-10-25 00:00 BST",
        "2026-10-25 00:30 BST",
        "2026-10-25 01:00 BST",
        "2026-10-25 01:30 BST",
        "2026-10-25 02:00 GMT",  # the second 01:00-01:59 is not run again
    ]


def test_hourly_intervals_count_elapsed_time_through_a_change():
    timing = Timing("interval", every=1, unit="hours", starts_at=utc(2026, 3, 29, 0, 0))
    assert runs(timing, utc(2026, 3, 29, 0, 0), 3) == [
        "2026-03-29 02:00 BST",  # one hour after 00:00 GMT
        "2026-03-29 03:00 BST",
        "2026-03-29 04:00 BST",
    ]


def test_every_n_days_counts_days_from_the_start():
    timing = Timing("interval", every=3, unit="days", at_time=time(6, 0), starts_at=utc(2026, 1, 1))
    assert runs(timing, utc(2026, 1, 1), 3) == [
        "2026-01-01 06:00 GMT",
        "2026-01-04 06:00 GMT",
        "2026-01-07 06:00 GMT",
    ]


def test_nothing_runs_before_the_start():
    timing = Timing("interval", every=2, unit="hours", starts_at=utc(2026, 6, 1, 10))
    assert timing.next_after(utc(2026, 5, 1), LONDON) == utc(2026, 6, 1, 10)


def test_descriptions_read_as_people_write_them():
    assert Timing("interval", every=1, unit="days", at_time=time(7, 0)).describe() == (
        "every day at 07:00"
    )
    assert Timing("interval", every=6, unit="hours").describe() == "every 6 hours"
    weekly = Timing("weekly", weekdays=(4, 0), at_time=time(9, 30))
    assert weekly.describe() == "weekly on Mon, Fri at 09:30"
