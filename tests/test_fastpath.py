"""The COPY fast paths produce exactly what the Python writers produce from Dataset.rows()."""

import io
import json
import re
import sqlite3
import sys
import zipfile
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import FloatField, JSONField, Value

from exports.datasets import registry
from exports.datasets.base import Column
from exports.engine import fastpath
from exports.engine.copysql import csv_sql, digit_ranges, iso_text, sqlite_text_sql, text_sql
from exports.engine.copystream import copy_chunks, session_zone
from exports.engine.fastpath import (
    compressing,
    json_copy,
    write_csv,
    write_json,
    write_sqlite,
    write_tsv_zip,
)
from exports.engine.progress import Progress
from exports.engine.rowsource import copy_rows
from exports.engine.tables import TableSource
from exports.formats import Options, get_writer
from exports.formats.base import neutralise, text_of, zone_named
from project.demo.models import Game, Task, UserInteraction, UserPoint, WalletTransaction
from project.demo.seed import AWKWARD, top_up

EDGES = [
    *AWKWARD,
    "",
    "-5",
    "+.5",
    "-1e3",
    "-1e",
    "-",
    "=",
    "-٣",  # an Arabic-Indic digit: Python's \d takes it
    "\n",
    "\r\nx",
    " =x",
    "\\.",
    'a\\"b',
    "tab\tand\nnewline\r",
    "\x01control",
    "\x0bvertical\x0cform\x08back\x1funit",  # \v is COPY's escape but not JSON's
    "\\N",  # COPY's NULL, as text
    "\\v%s%%",
]


# Awkward instants for Europe/Paris: either side of both 2026 clock changes (the autumn's
# repeated hour twice), a fraction of a second, and 1900, when Paris was +00:09:21.
MOMENTS = [
    datetime(2026, 3, 29, 0, 59, 59, 500000, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 30, 0, 10, tzinfo=UTC),
    datetime(1900, 1, 1, 12, tzinfo=UTC),
]
ZONES = ["UTC", "Europe/Paris", "America/St_Johns"]


@pytest.fixture
def awkward(demo_data) -> None:
    """Every edge case in every text column, and times with and without microseconds."""
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for i, text in enumerate(EDGES):
        moment = MOMENTS[i] if i < len(MOMENTS) else when.replace(microsecond=i * 1000)
        user = User.objects.create(
            username=f"awkward{i}", first_name=text, last_name=text[::-1], last_login=moment
        )
        game = Game.objects.create(name=text, created=moment)
        task = Task.objects.create(game=game, name=text, created=moment)
        UserPoint.objects.create(user=user, game=game, task=task, points=-i, created=moment)
        WalletTransaction.objects.create(
            user=user, amount=Decimal(f"-{i}.05"), kind="reward", note=text, created=moment
        )
        UserInteraction.objects.create(
            user=user, action=text, data={"note": text, "n": i, "l": [text]}, created=moment
        )
    json_null = Value(None, JSONField())
    for value in ["=1+1", "plain", json_null, 5, [1, "-x"], {"k": "\\"}, True, ""]:
        UserInteraction.objects.create(user=user, action="json", data=value, created=when)


def python_file(fmt: str, sources: list[TableSource], options: Options) -> bytes:
    out = io.BytesIO()
    with transaction.atomic():
        writer = get_writer(fmt)(out, options)
        for source in sources:
            writer.write_table(source.table, source.python_rows())
        writer.close()
    return out.getvalue()


def fast_file(write, sources: list[TableSource], options: Options) -> bytes:
    out = io.BytesIO()
    with transaction.atomic():
        assert write(out, sources, options, Progress()) is True, "fell back instead"
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


SINGLE = [[name] for name in registry.names()]
SEVERAL = [registry.names(), ["user_points", "user_points"]]


@pytest.mark.parametrize("names", SINGLE + SEVERAL, ids=lambda n: "+".join(n))
@pytest.mark.parametrize("sort_columns", [False, True], ids=["", "sorted"])
@pytest.mark.parametrize("zone", ZONES)
def test_csv_from_copy_is_byte_identical_to_the_csv_writer(awkward, names, sort_columns, zone):
    sources = [TableSource.build(registry.get(n), {}, sort_columns=sort_columns) for n in names]
    fast = fast_file(write_csv, sources, Options(time_zone=zone))
    assert fast == python_file("csv", sources, Options(time_zone=zone))
    assert b"'=1+1" in fast


@pytest.mark.parametrize("delimiter", ["comma", "semicolon", "tab"])
@pytest.mark.parametrize("bom", [False, True], ids=["", "bom"])
def test_csv_from_copy_is_byte_identical_for_every_delimiter_and_bom(awkward, delimiter, bom):
    options = Options(delimiter=delimiter, bom=bom, time_zone="Europe/Paris")
    sources = [TableSource.build(registry.get(n), {}) for n in registry.names()]
    fast = fast_file(write_csv, sources, options)
    assert fast == python_file("csv", sources, options)
    assert fast.startswith(b"\xef\xbb\xbfUser ID" if bom else b"User ID")
    separator = {"comma": b",", "semicolon": b";", "tab": b"\t"}[delimiter]
    assert fast.split(b"\r\n")[0].count(separator) == len(registry.get("users").columns) - 1


@pytest.mark.parametrize("names", SINGLE + SEVERAL, ids=lambda n: "+".join(n))
@pytest.mark.parametrize("zone", ZONES)
def test_tsv_members_from_copy_are_byte_identical_to_the_tsv_zip_writer(awkward, names, zone):
    sources = [TableSource.build(registry.get(n), {}) for n in names]
    fast = members(fast_file(write_tsv_zip, sources, Options(time_zone=zone)))
    assert fast == members(python_file("tsvzip", sources, Options(time_zone=zone)))
    assert len(fast) == len(names)


@pytest.mark.parametrize("names", SINGLE + SEVERAL, ids=lambda n: "+".join(n))
@pytest.mark.parametrize("zone", ZONES)
def test_json_from_copy_is_byte_identical_to_the_json_writer(awkward, names, zone):
    options = Options(extra={"multi_table": len(names) > 1}, time_zone=zone)
    sources = [TableSource.build(registry.get(n), {}) for n in names]
    fast = fast_file(write_json, sources, options)
    assert fast == python_file("json", sources, options)
    assert json.loads(fast)  # and it parses


def test_json_values_come_as_text_and_the_client_writes_the_objects(awkward):
    """Tables without JSON columns take engine.jsonblocks' path, null strings included."""
    User.objects.create(username="never-logged-in", first_name="", last_login=None)
    source = TableSource.build(registry.get("users"), {})
    copy, quoted = json_copy(source, "UTC")
    assert copy.options == "FORMAT text" and any(quoted)
    fast = fast_file(write_json, [source], Options())
    assert fast == python_file("json", [source], Options())
    rows = {row["username"]: row for row in json.loads(fast)}
    assert rows["never-logged-in"]["last_login"] is None
    assert json_copy(TableSource.build(registry.get("user_interactions"), {}), "UTC")[1] is None


def test_json_and_sqlite_text_paths_match_their_writers_at_100k_rows(db, tmp_path):
    """Twenty blocks of 5,000 rows, the demo's awkward names among them: every block's
    boundary, escape and quote lands where the writers put it."""
    top_up(100_000)
    every_seventh = list(User.objects.order_by("pk").values_list("pk", flat=True))[::7]
    User.objects.filter(pk__in=every_seventh).update(last_login=None)
    for name in ("user_points", "users"):
        source = TableSource.build(registry.get(name), {})
        assert json_copy(source, "UTC")[1] is not None, "took PostgreSQL's object path"
        fast = fast_file(write_json, [source], Options())
        assert fast == python_file("json", [source], Options())
        rows = json.loads(fast)
        assert (
            len(rows)
            == source.dataset.get_queryset().count()
            >= (100_000 if name == "user_points" else 200)
        )
    source = TableSource.build(registry.get("user_points"), {})
    fast_db = sqlite_contents(fast_file(write_sqlite, [source], Options()), tmp_path)
    assert fast_db == sqlite_contents(python_file("sqlite", [source], Options()), tmp_path)
    assert sum(map(len, fast_db.values())) > 100_000


def sqlite_contents(data: bytes, tmp_path) -> dict[str, list[tuple]]:
    """Every table's rows with each value's SQLite storage class, in rowid order."""
    path = tmp_path / f"db{len(list(tmp_path.iterdir()))}.sqlite3"
    path.write_bytes(data)
    with closing(sqlite3.connect(path)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        contents = {"schema": db.execute("SELECT sql FROM sqlite_master").fetchall()}
        for name in tables:
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{name}")')]
            typed = ", ".join(f'"{c}", typeof("{c}")' for c in columns)
            query = f'SELECT {typed} FROM "{name}" ORDER BY rowid'  # noqa: S608 - our own names
            contents[name] = db.execute(query).fetchall()
    return contents


@pytest.mark.parametrize("names", SINGLE + SEVERAL, ids=lambda n: "+".join(n))
@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_sqlite_from_copy_holds_exactly_what_the_sqlite_writer_stores(
    awkward, names, zone, tmp_path
):
    options = Options(time_zone=zone)
    sources = [TableSource.build(registry.get(n), {}, sort_columns=True) for n in names]
    fast = sqlite_contents(fast_file(write_sqlite, sources, options), tmp_path)
    assert fast == sqlite_contents(python_file("sqlite", sources, options), tmp_path)
    assert sum(len(rows) for rows in fast.values()) > len(EDGES)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_sqlite_from_a_binary_copy_holds_the_same(awkward, zone, tmp_path, monkeypatch):
    """Tables with float columns (none in the demo) take the binary COPY, parsed row by row:
    with the text path refused for every table, the database is still the writer's."""
    assert sqlite_text_sql(Column("ratio", "ratio", kind="float"), FloatField(), "c0") is None
    monkeypatch.setattr(fastpath, "sqlite_text_sql", lambda *args: None)
    options = Options(time_zone=zone)
    sources = [TableSource.build(registry.get(n), {}, sort_columns=True) for n in registry.names()]
    fast = sqlite_contents(fast_file(write_sqlite, sources, options), tmp_path)
    assert fast == sqlite_contents(python_file("sqlite", sources, options), tmp_path)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_copy_prints_iso_times_whatever_the_sessions_date_style(awkward, zone):
    source = TableSource.build(registry.get("users"), {})
    expected = python_file("csv", [source], Options(time_zone=zone))
    # Until the test's transaction ends; Django itself cannot read times in this style.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL DateStyle = 'SQL, DMY'")
    assert fast_file(write_csv, [source], Options(time_zone=zone)) == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('DateStyle')")
        assert cursor.fetchone() == ("SQL, DMY",)


def test_copy_leaves_the_sessions_time_zone_as_it_found_it(awkward):
    source = TableSource.build(registry.get("users"), {})
    with transaction.atomic():
        fast_file(write_csv, [source], Options(time_zone="Europe/Paris"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('TimeZone')")
            assert cursor.fetchone()[0] == "UTC"
        # Django reads timestamptz text as UTC: times read now are the right instants.
        assert User.objects.get(username="awkward0").last_login == MOMENTS[0]


def test_json_from_copy_keeps_backslashes_quotes_and_newlines(awkward):
    source = TableSource.build(
        registry.get("user_interactions"), {"conditions": {"action": "json"}}
    )
    parsed = json.loads(fast_file(write_json, [source], Options()))
    assert [row["data"] for row in parsed] == [
        "=1+1",
        "plain",
        None,
        5,
        [1, "-x"],
        {"k": "\\"},
        True,
        "",
    ]


def test_an_empty_result_still_writes_headings_and_an_empty_array(demo_data):
    source = TableSource.build(registry.get("users"), {"conditions": {"id": []}})
    assert fast_file(write_csv, [source], Options()) == python_file("csv", [source], Options())
    assert fast_file(write_json, [source], Options()) == b"[]\n"


def test_filter_values_with_quotes_are_inlined_as_literals(awkward):
    hostile = "x'); DROP TABLE demo_game; --"
    conditions = {"kind": ["reward", hostile], "amount": {"lt": "0"}}
    source = TableSource.build(registry.get("wallet_transactions"), {"conditions": conditions})
    assert fast_file(write_csv, [source], Options()) == python_file("csv", [source], Options())
    assert Game.objects.exists()


@pytest.mark.parametrize("name", registry.names())
def test_binary_copy_rows_equal_djangos_rows(awkward, name):
    source = TableSource.build(registry.get(name), {"limit": 1000}, sort_columns=True)
    with transaction.atomic():
        expected = [tuple(row) for row in source.python_rows()]
        copied = [tuple(row) for row in copy_rows(source)]
    assert copied == expected
    assert [[type(v) for v in row] for row in copied] == [
        [type(v) for v in row] for row in expected
    ]


def test_binary_copy_rows_give_aware_datetimes_decimals_and_dicts(awkward):
    source = TableSource.build(registry.get("user_interactions"), {"conditions": {"action": "-"}})
    with transaction.atomic():
        (row,) = copy_rows(source)
    assert isinstance(row[4], dict) and row[5].tzinfo is not None
    wallet = TableSource.build(registry.get("wallet_transactions"), {"limit": 1})
    with transaction.atomic():
        (row,) = copy_rows(wallet)
    assert isinstance(row[3], Decimal)


def sql_text(expression: str, value) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression} FROM (SELECT %s AS c0) AS q", [value])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("text", EDGES)
def test_sql_neutralising_matches_python(text):
    from django.db.models import CharField

    assert (sql_text(csv_sql(CharField(), "c0::text"), text) or "") == neutralise(text)


@pytest.mark.django_db
@pytest.mark.parametrize("zone", [*ZONES, "Etc/UTC", "Asia/Kathmandu", "Africa/Monrovia"])
@pytest.mark.parametrize("microsecond", [0, 1, 10, 120, 500000, 999999])
@pytest.mark.parametrize(
    "moment", [*MOMENTS[:4], datetime(1900, 1, 1, 12), datetime(1, 1, 1, 12)], ids=str
)
def test_sql_timestamps_match_python_iso_text(zone, microsecond, moment):
    value = moment.replace(microsecond=microsecond, tzinfo=UTC)
    with transaction.atomic(), connection.cursor() as cursor, session_zone(cursor.cursor, zone):
        printed = sql_text(iso_text("c0::timestamptz", zone), value)
    assert printed == text_of(value, zone_named(zone))
    assert datetime.fromisoformat(printed) == value


def test_naive_times_are_left_to_the_python_writers(settings):
    from django.db.models import DateTimeField

    settings.USE_TZ = False
    assert text_sql(DateTimeField(), "c0", neutralise=False) is None


@pytest.mark.django_db
def test_times_keep_an_offset_with_seconds_in_sql_and_python():
    value = datetime(1900, 1, 1, 12, tzinfo=UTC)  # Paris kept its own mean time until 1911
    paris = "Europe/Paris"
    with transaction.atomic(), connection.cursor() as cursor, session_zone(cursor.cursor, paris):
        printed = sql_text(iso_text("c0::timestamptz", paris), value)
    assert printed == text_of(value, zone_named(paris)) == "1900-01-01T12:09:21+00:09:21"


def test_the_sql_number_pattern_takes_exactly_pythons_digits():
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    ranges = digit_ranges()
    spelled = set()
    for first, dash, last in re.findall(r"(.)(-?)(.?)", ranges):
        if dash:
            spelled.update(map(chr, range(ord(first), ord(last) + 1)))
        else:
            spelled.update(first + last)
    assert spelled == set(re.findall(r"\d", everything))


class FullDisk:
    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.written >= 2:
            raise OSError(28, "No space left on device")
        self.written += 1
        return len(data)


@pytest.mark.parametrize("blocks", [1, 3, 100])
def test_a_failed_write_on_the_compressing_thread_reaches_the_export(blocks):
    member = FullDisk()
    with pytest.raises(OSError, match="No space left"), compressing(member) as write:
        for _ in range(blocks + 2):
            write(b"block")
    assert member.written == 2


@pytest.mark.django_db
def test_an_error_in_the_middle_of_a_copy_is_raised_and_the_connection_stays_usable():
    statement = "COPY (SELECT 1 / (g - 3000) FROM generate_series(1, 5000) g) TO STDOUT"
    read = []

    def copy_all() -> None:
        with transaction.atomic(), connection.cursor() as c, c.cursor.copy(statement) as copy:
            for chunk in copy_chunks(copy, 1000):
                read.extend(chunk)

    with pytest.raises(psycopg.errors.DivisionByZero):
        copy_all()
    assert 0 < len(read) < 3000
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
        assert cursor.fetchone() == (42,)


@pytest.mark.django_db
def test_every_row_of_a_copy_arrives_in_chunks_of_the_size_asked():
    statement = "COPY (SELECT g FROM generate_series(1, 2500) g) TO STDOUT"
    with transaction.atomic(), connection.cursor() as c, c.cursor.copy(statement) as copy:
        chunks = list(copy_chunks(copy, 1000))
    assert [len(chunk) for chunk in chunks] == [1000, 1000, 500]
    lines = [bytes(line) for chunk in chunks for line in chunk]
    assert lines == [f"{g}\n".encode() for g in range(1, 2501)]
