"""CSV for Excel: a UTF-8 byte order mark and the delimiter Excel expects, on the COPY fast
path as on the Python writer, read back by LibreOffice with the right columns."""

import io
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from exports.datasets import registry
from exports.engine import export
from exports.formats.base import Options
from project.demo.models import Game, Task, UserPoint
from tests.test_formats_support import TABLE, render, save, soffice

AWKWARD = 'semi; colon, comma "quoted"'
SEPARATORS = {"comma": 44, "semicolon": 59, "tab": 9}
HEADINGS = [c.heading for c in registry.get("user_points").columns]


def test_the_csv_writer_starts_with_a_bom_and_uses_the_delimiter():
    data = render("csv", options=Options(bom=True, delimiter="semicolon"))[0]
    assert data.startswith(b"\xef\xbb\xbf'=ID;Name;Amount;")
    assert b'\r\n2;"comma, inside";' not in data  # a comma needs no quotes now...
    assert b"\r\n2;comma, inside;" in data
    assert data.count(b"\xef\xbb\xbf") == 1
    plain = render("csv")[0]
    assert plain.startswith(b"'=ID,Name,Amount,")


def test_a_delimiter_the_csv_writer_does_not_know_is_refused():
    with pytest.raises(ValueError, match="Unknown CSV delimiter 'pipe'"):
        render("csv", [(TABLE, [])], Options(delimiter="pipe"))


@pytest.fixture
def awkward_point(demo_data) -> int:
    """A user point whose game name holds the delimiters and a quote."""
    other = UserPoint.objects.order_by("pk").first()
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    game = Game.objects.create(name=AWKWARD, created=when)
    task = Task.objects.create(game=game, name="=1+1", created=when)
    point = UserPoint.objects.create(
        user_id=other.user_id, game=game, task=task, points=7, created=when
    )
    return point.pk


@pytest.mark.parametrize("delimiter", list(SEPARATORS))
@pytest.mark.parametrize("bom", [False, True], ids=["", "bom"])
def test_the_copy_fast_path_is_taken_for_every_csv_option(awkward_point, delimiter, bom):
    out = io.BytesIO()
    options = {"bom": bom, "delimiter": delimiter}
    result = export(out, registry.get("user_points"), "csv", {"limit": 50}, options)
    assert result.fast and result.rows == 50
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbfID" if bom else b"ID")
    header = data.split(b"\r\n")[0].decode("utf-8-sig")
    assert header == chr(SEPARATORS[delimiter]).join(HEADINGS)


def test_libreoffice_reads_a_bom_and_semicolon_csv_into_the_right_columns(
    awkward_point, tmp_path: Path
):
    out = io.BytesIO()
    conditions = {"conditions": {"id": {"ge": awkward_point - 2}}}
    options = {"bom": True, "delimiter": "semicolon", "time_zone": "Europe/Paris"}
    result = export(out, registry.get("user_points"), "csv", conditions, options)
    assert result.fast and result.rows == 3
    source = save(tmp_path, "excel.csv", out.getvalue())
    soffice([([source], "xlsx", tmp_path / "xlsx", "CSV:59,34,76,1")])
    converted = tmp_path / "xlsx" / "excel.xlsx"
    assert converted.exists(), "LibreOffice did not convert the file"
    rows = [[c.value for c in row] for row in openpyxl.load_workbook(converted).active.rows]
    assert rows[0] == HEADINGS  # no BOM glued to the first heading
    assert all(len(row) == len(HEADINGS) for row in rows)
    last = rows[-1]
    assert last[0] == awkward_point
    assert last[4] == AWKWARD
    assert last[6] == "'=1+1"  # neutralised text stays text
    assert last[7] == 7
    assert last[8] == "2026-03-04T06:06:07+01:00"
