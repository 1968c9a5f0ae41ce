"""The export engine: tables, options, limits, progress and what it hands back."""

import csv
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from openpyxl import load_workbook

from exports.datasets import ConditionError, Dataset, registry
from exports.engine import export, export_tables
from exports.formats import UnknownFormat
from project.demo.models import UserPoint

POINTS = registry.get("user_points")
USERS = registry.get("users")


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_export_writes_a_header_and_every_row_and_says_what_it_wrote(demo_data):
    out = io.BytesIO()
    result = export(out, POINTS, "csv")
    rows = csv_rows(out.getvalue())
    assert rows[0] == [c.heading for c in POINTS.columns]
    assert len(rows) - 1 == result.rows == UserPoint.objects.count()
    assert (result.extension, result.content_type, result.notes) == ("csv", "text/csv", [])


def test_several_datasets_become_one_array_each_in_one_json_file(demo_data):
    game = UserPoint.objects.first().game_id
    out = io.BytesIO()
    tables = [(POINTS, {"conditions": {"game": game}}), (USERS, {"limit": 3})]
    result = export_tables(out, tables, "json")
    parsed = json.loads(out.getvalue())
    assert list(parsed) == ["user_points", "users"]
    assert len(parsed["user_points"]) == UserPoint.objects.filter(game=game).count()
    assert {row["game_id"] for row in parsed["user_points"]} == {game}
    assert len(parsed["users"]) == 3
    assert result.rows == len(parsed["user_points"]) + 3


def test_several_datasets_become_one_sheet_each_in_xlsx(demo_data, tmp_path: Path):
    path = tmp_path / "out.xlsx"
    with path.open("wb") as out:
        export_tables(out, [(POINTS, {"limit": 5}), (POINTS, {"limit": 2})], "xlsx")
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["user_points", "user_points_2"]
    assert [len(list(book[name].iter_rows())) for name in book.sheetnames] == [6, 3]


def test_sorted_columns_are_ordered_by_heading_and_values_follow_them(demo_data):
    plain, sorted_ = io.BytesIO(), io.BytesIO()
    export(plain, USERS, "csv", {"limit": 5})
    export(sorted_, USERS, "csv", {"limit": 5}, {"sort_columns": True})
    before, after = csv_rows(plain.getvalue()), csv_rows(sorted_.getvalue())
    assert after[0] == sorted(before[0], key=str.casefold)
    moved = [before[0].index(heading) for heading in after[0]]
    assert after[1:] == [[row[i] for i in moved] for row in before[1:]]


def test_sorted_columns_reach_the_python_writers_too(demo_data, tmp_path: Path):
    path = tmp_path / "sorted.sqlite3"
    with path.open("wb") as out:
        export(out, USERS, "sqlite", {"limit": 2}, {"sort_columns": True})
    db = sqlite3.connect(path)
    names = [row[1] for row in db.execute("PRAGMA table_info(users)")]
    headings = {c.name: c.heading for c in USERS.columns}
    assert names == sorted(names, key=lambda n: headings[n].casefold())
    (username,) = db.execute("SELECT username FROM users ORDER BY id LIMIT 1").fetchone()
    assert username.startswith("player")


def test_the_data_dictionary_describes_every_column(demo_data):
    out = io.BytesIO()
    export_tables(out, [(USERS, {"limit": 1})], "json", {"data_dictionary": True})
    dictionary = json.loads(out.getvalue())["data_dictionary"]
    assert [row["column"] for row in dictionary] == [c.name for c in USERS.columns]


def test_the_smaller_of_the_requested_limit_and_the_row_cap_wins(demo_data):
    out = io.BytesIO()
    assert export(out, POINTS, "csv", {"limit": 7}, max_rows=100).rows == 7
    capped = export(io.BytesIO(), POINTS, "csv", {"limit": 70}, max_rows=10)
    assert capped.rows == 10
    assert capped.notes == ["user_points: stopped at the row cap of 10 rows; there may be more."]


def test_the_background_row_cap_comes_from_settings(demo_data, settings):
    settings.EXPORTS_MAX_ROWS_BACKGROUND = 4
    assert export(io.BytesIO(), POINTS, "json").rows == 4


def test_progress_is_reported_every_n_rows_across_tables(demo_data):
    seen: list[int] = []
    tables = [(POINTS, {"limit": 120}), (USERS, {"limit": 15})]
    for fmt in ("csv", "xlsx"):  # the COPY fast path and the Python writers
        seen.clear()
        export_tables(io.BytesIO(), tables, fmt, on_progress=seen.append, progress_every=50)
        assert seen == [50, 100, 135], fmt


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("fmt", ["csv", "json", "sqlite"])
def test_an_exception_from_the_progress_callback_stops_the_export(demo_data, fmt):
    def cancel(rows: int) -> None:
        raise Cancelled(rows)

    with pytest.raises(Cancelled):
        export_tables(io.BytesIO(), [(POINTS, {})], fmt, on_progress=cancel, progress_every=50)


def test_a_filter_outside_the_allow_list_fails_before_any_byte(demo_data):
    out = io.BytesIO()
    with pytest.raises(ConditionError, match="password"):
        export(out, USERS, "csv", {"conditions": {"password": "x"}})
    assert out.getvalue() == b""


def test_an_unknown_format_fails_before_any_byte(demo_data):
    out = io.BytesIO()
    with pytest.raises(UnknownFormat):
        export(out, USERS, "docx")
    assert out.getvalue() == b""


def test_writer_notes_come_back_in_the_result(demo_data):
    User.objects.filter(username="player0000000").update(first_name="bell\x07")
    result = export(io.BytesIO(), USERS, "xlsx")
    assert any("control character" in note for note in result.notes)


@dataclass(frozen=True)
class Doubled(Dataset):
    """A dataset whose rows are not its queryset's: COPY must not stand in for it."""

    def rows(self, conditions=None, limit=None, chunk_size=2000):
        return ((row[0] * 2, *row[1:]) for row in super().rows(conditions, limit, chunk_size))


def test_a_dataset_with_its_own_rows_is_read_through_them(demo_data):
    doubled = Doubled(**{f: getattr(USERS, f) for f in USERS.__dataclass_fields__})
    out = io.BytesIO()
    first = User.objects.order_by("pk").first().pk
    export(out, doubled, "csv", {"conditions": {"id": first}})
    assert csv_rows(out.getvalue())[1][0] == str(first * 2)


def test_the_engine_works_inside_a_callers_transaction(demo_data):
    with transaction.atomic():
        assert export(io.BytesIO(), USERS, "csv").rows > 0
