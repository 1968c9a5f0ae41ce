"""Times are written in the export's zone (the site's, the request's, or UTC when asked),
each format the way its readers understand it, and daylight saving changes lose nothing."""

import csv
import io
import json
import re
import sqlite3
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.utils import timezone as dj_timezone

from exports.datasets import registry
from exports.datasets.base import Column
from exports.engine import export
from exports.engine.pipeline import to_options
from exports.formats.base import Options, Table, iso_text, zone_named
from exports.formats.sqlite import TextBinder, bindable
from project.demo.models import UserPoint
from tests.test_formats_support import render, save

PARIS = "Europe/Paris"
# Either side of Paris's 2026 clock changes, in order: 02:00 does not exist on 29 March;
# 02:00-03:00 happens twice on 25 October.
INSTANTS = [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 30, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 2, 0, 0, 250000, tzinfo=UTC),
]
IN_PARIS = [
    "2026-03-29T01:59:59+01:00",
    "2026-03-29T03:00:00+02:00",
    "2026-10-25T02:30:00+02:00",  # the repeated hour, first in summer time...
    "2026-10-25T02:30:00+01:00",  # ...then again in winter time
    "2026-10-25T03:00:00.25+01:00",
]
TABLE = Table(
    "moments",
    (Column("id", "id", "ID", "", "integer"), Column("at", "at", "At", "", "datetime")),
)
ROWS = [(i, moment) for i, moment in enumerate(INSTANTS)]


def assert_instants(texts: list[str]) -> None:
    """The text as written in Paris; read back, the same instants, distinct and in order."""
    assert texts == IN_PARIS
    parsed = [datetime.fromisoformat(t) for t in texts]
    assert parsed == INSTANTS
    assert parsed == sorted(set(parsed))


def csv_column(data: bytes, delimiter: str = ",") -> list[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))
    return [row[-1] for row in rows[1:]]


def test_csv_json_and_tsv_write_paris_times_with_their_offsets_across_both_changes():
    options = Options(time_zone=PARIS)
    assert_instants(csv_column(render("csv", [(TABLE, ROWS)], options)[0]))
    assert_instants([r["at"] for r in json.loads(render("json", [(TABLE, ROWS)], options)[0])])
    with zipfile.ZipFile(io.BytesIO(render("tsvzip", [(TABLE, ROWS)], options)[0])) as archive:
        assert_instants(csv_column(archive.read("moments.tsv"), "\t"))


def test_utc_is_written_as_utc_with_a_zero_offset():
    texts = csv_column(render("csv", [(TABLE, ROWS)], Options(time_zone="UTC"))[0])
    assert texts[2:4] == ["2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00"]


@pytest.fixture
def moments(demo_data) -> int:
    """User points at the awkward instants; returns the first one's id."""
    template = UserPoint.objects.order_by("pk").first()
    first = UserPoint.objects.order_by("-pk").first().pk + 1
    for moment in INSTANTS:
        UserPoint.objects.create(
            user_id=template.user_id,
            game_id=template.game_id,
            task_id=template.task_id,
            points=1,
            created=moment,
        )
    return first


@pytest.mark.parametrize("fmt", ["csv", "json", "tsvzip"])
def test_postgresqls_copy_writes_the_same_paris_times(moments, fmt):
    out = io.BytesIO()
    new = {"conditions": {"id": {"ge": moments}}}
    result = export(out, registry.get("user_points"), fmt, new, {"time_zone": PARIS})
    data, fast = out.getvalue(), result.fast
    assert fast, "the COPY fast path wrote the file"
    if fmt == "json":
        texts = [r["created"] for r in json.loads(data)]
    elif fmt == "csv":
        texts = csv_column(data)
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            texts = csv_column(archive.read("user_points.tsv"), "\t")
    assert_instants(texts)


def test_spreadsheets_hold_the_wall_clock_time_of_the_zone(tmp_path: Path):
    rows = [(1, datetime(2026, 7, 1, 10, 0, tzinfo=UTC)), (2, INSTANTS[2]), (3, INSTANTS[3])]
    data = render("xlsx", [(TABLE, rows)], Options(time_zone=PARIS))[0]
    sheet = openpyxl.load_workbook(save(tmp_path, "t.xlsx", data)).active
    cells = [row[1].value for row in sheet.iter_rows(min_row=2)]
    # A spreadsheet has no zones: the repeated hour shows 02:30 twice, as a clock in Paris did.
    twice = datetime(2026, 10, 25, 2, 30)
    assert cells == [datetime(2026, 7, 1, 12, 0), twice, twice]
    ods = render("ods", [(TABLE, rows)], Options(time_zone=PARIS))[0]
    with zipfile.ZipFile(io.BytesIO(ods)) as archive:
        content = archive.read("content.xml").decode()
    assert re.findall(r'office:date-value="([^"]+)"', content) == [
        "2026-07-01T12:00:00",
        "2026-10-25T02:30:00",
        "2026-10-25T02:30:00",
    ]


def test_sqlite_stores_iso_text_with_the_offset_which_its_date_functions_read(tmp_path: Path):
    for fmt in ("sqlite", "sql"):
        data = render(fmt, [(TABLE, ROWS)], Options(time_zone=PARIS))[0]
        database = tmp_path / f"{fmt}.db"
        if fmt == "sqlite":
            database.write_bytes(data)
        else:
            subprocess.run(["sqlite3", str(database)], input=data, check=True, capture_output=True)
        with sqlite3.connect(database) as db:
            stored = [r[0] for r in db.execute("SELECT at FROM moments ORDER BY id")]
            in_utc = db.execute(
                "SELECT strftime('%Y-%m-%dT%H:%M:%f', at) FROM moments ORDER BY datetime(at)"
            ).fetchall()
        assert_instants(stored)
        assert [r[0] for r in in_utc] == [
            m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}" for m in INSTANTS
        ]


R_CHECK = r"""
source(commandArgs(TRUE)[1])
x <- moments$at
cat(attr(x, "tzone"), "\n", sep = "")
cat(format(x, "%Y-%m-%d %H:%M:%S %z"), sep = "\n")
cat(sprintf("%.2f", as.numeric(x)), sep = "\n")
"""


def test_r_gets_the_same_instants_shown_in_the_zone(tmp_path: Path):
    script = save(tmp_path, "export.R", render("r", [(TABLE, ROWS)], Options(time_zone=PARIS))[0])
    check = save(tmp_path, "check.R", R_CHECK.encode())
    done = subprocess.run(
        ["Rscript", "--vanilla", str(check), str(script)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == PARIS
    assert lines[1:6] == [
        "2026-03-29 01:59:59 +0100",
        "2026-03-29 03:00:00 +0200",
        "2026-10-25 02:30:00 +0200",
        "2026-10-25 02:30:00 +0100",
        "2026-10-25 03:00:00 +0100",
    ]
    assert [float(v) for v in lines[6:]] == [round(m.timestamp(), 2) for m in INSTANTS]


def test_without_a_choice_the_export_takes_the_sites_zone_or_the_requests(settings):
    settings.TIME_ZONE = PARIS
    assert to_options({}, multi_table=False).time_zone == PARIS
    with dj_timezone.override(ZoneInfo("America/New_York")):
        assert to_options({}, multi_table=False).time_zone == "America/New_York"
    # A zone without a name (a fixed offset) cannot be handed to PostgreSQL: the site's.
    with dj_timezone.override(timezone(timedelta(hours=3))):
        assert to_options({}, multi_table=False).time_zone == PARIS
    assert to_options({"time_zone": "UTC"}, multi_table=False).time_zone == "UTC"


def test_an_unknown_zone_is_refused_before_the_first_byte(demo_data):
    out = io.BytesIO()
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus'"):
        export(out, registry.get("users"), "csv", {}, {"time_zone": "Mars/Olympus"})
    assert out.getvalue() == b""


def test_the_data_dictionary_names_the_zone(demo_data):
    out = io.BytesIO()
    options = {"time_zone": PARIS, "data_dictionary": True}
    export(out, registry.get("user_points"), "json", {"limit": 1}, options)
    dictionary = json.loads(out.getvalue())["data_dictionary"]
    created = next(row for row in dictionary if row["column"] == "created")
    assert created["description"].endswith(f"Times in {PARIS}.")
    assert all(PARIS not in row["description"] for row in dictionary if row is not created)


def test_the_sqlite_writer_formats_a_whole_column_of_times_as_it_does_one():
    zone = zone_named(PARIS)
    values = [m.replace(microsecond=us) for m in INSTANTS for us in (0, 1, 10, 500000, 999999)]
    bound = [row[0] for row in bindable([(v,) for v in values], [TextBinder(zone)])]
    assert bound == [iso_text(v, zone) for v in values]
    assert bound[1] == "2026-03-29T01:59:59.000001+01:00"
    assert bound[3] == "2026-03-29T01:59:59.5+01:00"
