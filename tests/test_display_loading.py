"""Display mode reads its rows the cheap way (datasets.instances.fetched: timestamptz parsed by
psycopg's C loader; datasets.display.ObjectText: a foreign key's text once per key in a
chunk) and gets exactly what Django's own reading gives: the same values, of the same types,
in the same zone, for generated rows with nulls, microseconds and old offsets, with USE_TZ on
and off, in UTC and in Paris."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection, connections, transaction

from exports.datasets import display
from exports.datasets.instances import fetched
from project.demo.models import UserPoint
from project.demo.seed import top_up

pytestmark = pytest.mark.django_db(transaction=True)
ZONES = ["UTC", "Europe/Paris"]


@pytest.fixture(params=[(tz, name) for tz in (True, False) for name in ZONES])
def zone(request, settings):
    """USE_TZ and TIME_ZONE as a host sets them; every connection reconnects that way (see
    test_naive_time), and again afterwards."""
    use_tz, name = request.param
    settings.TIME_ZONE = name
    settings.USE_TZ = use_tz
    connections.close_all()
    yield use_tz
    settings.USE_TZ = True
    connections.close_all()


def generated_users(count: int) -> None:
    """Users whose last_login is null, whole, with microseconds, before 1911 (Paris' offset
    had seconds then), at DST changes and near the ends of the calendar."""
    rng = random.Random(23)
    edges = [
        datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1911, 3, 10, 23, 50, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, 999999, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, 0, 500000, tzinfo=UTC),
        datetime(1, 1, 3, tzinfo=UTC),
        datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    users = []
    for n in range(count):
        when = (
            edges[n]
            if n < len(edges)
            else datetime(1850, 1, 1, tzinfo=UTC)
            + timedelta(
                seconds=rng.randrange(0, 6_000_000_000),
                microseconds=rng.choice([0, rng.randrange(10**6)]),
            )
        )
        users.append(User(username=f"gen{n}", last_login=None if n % 5 == 4 else when))
    with connection.cursor() as cursor:  # aware values whatever USE_TZ says: stored as given
        for user in users:
            cursor.execute(
                "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,"
                " last_name, email, is_staff, is_active, date_joined)"
                " VALUES ('', %s, false, %s, '', '', '', false, true, %s)",
                [user.last_login, user.username, user.last_login or edges[2]],
            )


def same_rows(queryset) -> tuple[list, list]:
    """The rows Django's own chunked read gives, and fetched()'s, of one query."""
    with transaction.atomic():
        django_rows = [
            list(row)
            for chunk in queryset.query.get_compiler(using="default").execute_sql(
                chunked_fetch=True, chunk_size=50
            )
            for row in chunk
        ]
        ours = [
            list(row)
            for chunk in fetched(queryset.query.get_compiler(using="default"), 50)
            for row in chunk
        ]
    return django_rows, ours


def described(rows: list) -> list:
    """Each value with its type and its zone object (identity: the same tzinfo Django puts)."""
    return [
        [(value, type(value), id(getattr(value, "tzinfo", None))) for value in row] for row in rows
    ]


def test_it_loads_date_times_as_djangos_loader_does(zone):
    generated_users(400)
    django_rows, ours = same_rows(User.objects.order_by("pk"))
    assert len(ours) == 400
    assert described(ours) == described(django_rows)
    times = [row[2] for row in ours if row[2] is not None]  # last_login
    assert len(times) == 320
    assert all((t.tzinfo is not None) is zone for t in times)
    assert any(t.microsecond for t in times)


def test_it_loads_joined_rows_as_djangos_loader_does(zone):
    top_up(600)
    queryset = UserPoint.objects.select_related("user", "game", "task").order_by("-pk")
    django_rows, ours = same_rows(queryset)
    assert len(ours) == UserPoint.objects.count() >= 600
    assert described(ours) == described(django_rows)


def test_an_empty_query_reads_no_rows():
    assert list(fetched(User.objects.none().query.get_compiler(using="default"), 10)) == []


@pytest.mark.parametrize("time_zone", ZONES)
def test_display_rows_are_the_admins_reading_of_each_instance(settings, time_zone):
    """Every cell of the demo changelist, chunk after chunk (7 rows: the texts start again),
    equals what the ModelAdmin's own reading of Django's instances gives."""
    settings.TIME_ZONE = time_zone
    top_up(300)
    model_admin = admin.site._registry[UserPoint]
    items = list(model_admin.list_display)
    queryset = display.with_related(UserPoint.objects.order_by("pk"), items)
    with transaction.atomic():
        rows = list(display.rows(model_admin, queryset, items, chunk_size=7))
        expected = [
            [
                obj.pk,
                str(obj.user),
                display.html_text(str(model_admin.player(obj))),
                str(obj.game),
                str(obj.task),
                obj.points,
                model_admin.scored(obj),
                obj.created,
            ]
            for obj in queryset.prefetch_related("user__groups").iterator(50)  # Django's iterator
        ]
    assert len(rows) == UserPoint.objects.count() >= 300
    assert rows == expected
    assert [type(v) for v in rows[0]] == [type(v) for v in expected[0]]
    assert rows[-1][7].tzinfo is expected[-1][7].tzinfo


def test_a_foreign_keys_text_is_read_once_per_key_within_a_chunk():
    top_up(60)
    model_admin = admin.site._registry[UserPoint]
    queryset = display.with_related(UserPoint.objects.order_by("pk"), ["user"])
    read = display.cell(model_admin, "user")
    assert isinstance(read, display.ObjectText)
    with transaction.atomic():
        rows = list(display.rows(model_admin, queryset, ["user"], chunk_size=1000))
    assert [row[0] for row in rows] == [str(p.user) for p in queryset]
    assert len({id(row[0]) for row in rows}) == len({row[0] for row in rows})  # one str per key


def test_only_the_display_cursor_parses_in_c(zone):
    """The C loader (or the zone put on after it) is on the cursor fetched() opens; the
    connection keeps Django's, which Django compares against for every cursor it opens."""
    from psycopg import pq
    from psycopg.postgres import types

    from exports.datasets.instances import fast_timestamps

    oid = types["timestamptz"].oid
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        fast_timestamps(cursor.cursor)
        ours = cursor.cursor.adapters.get_loader(oid, pq.Format.TEXT)
        kept = connection.connection.adapters.get_loader(oid, pq.Format.TEXT)
    assert ours.__module__.startswith("psycopg_binary") if zone else ours.__name__ == "Zoned"
    assert kept.__module__.startswith("django.")
