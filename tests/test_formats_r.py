import csv
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from exports.formats import r as r_format
from exports.formats.base import Table
from tests.test_formats_support import (
    OTHER,
    OTHER_ROWS,
    ROWS,
    TABLE,
    env_c_locale,
    render,
    save,
)

# Sources the script, then writes each data.frame's classes and values for Python to check.
CHECK = r"""
args <- commandArgs(TRUE)
source(args[1])
for (name in args[-(1:2)]) {
  df <- get(name)
  classes <- vapply(df, function(x) class(x)[1], "")
  writeLines(c(nrow(df), paste(names(df), classes, sep = "=")),
             file.path(args[2], paste0(name, ".classes")), useBytes = TRUE)
  seconds <- function(x) ifelse(is.na(x), NA, sprintf("%.6f", as.numeric(x)))
  shown <- lapply(df, function(x) if (inherits(x, "POSIXct")) seconds(x) else x)
  shown <- data.frame(shown, check.names = FALSE, stringsAsFactors = FALSE)
  utils::write.csv(shown, file.path(args[2], paste0(name, ".csv")), row.names = FALSE,
                   na = "<NA>", fileEncoding = "UTF-8")
}
"""
POINT_CLASSES = [
    "id=numeric",  # one id is beyond R's 32-bit integers
    "name=character",
    "amount=numeric",
    "ratio=numeric",
    "active=logical",
    "created=POSIXct",
    "day=Date",
    "data=character",
]


def run_r(tmp_path: Path, data: bytes, *names: str, env=None) -> dict[str, tuple]:
    script = save(tmp_path, "export.R", data)
    check = save(tmp_path, "check.R", CHECK.encode())
    command = ["Rscript", "--vanilla", str(check), str(script), str(tmp_path), *names]
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=120)
    result = {}
    for name in names:
        lines = (tmp_path / f"{name}.classes").read_text(encoding="utf-8").splitlines()
        with (tmp_path / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        result[name] = (int(lines[0]), lines[1:], rows)
    return result


def shown(value) -> str:
    return "<NA>" if value is None else value


def test_rscript_rebuilds_each_table_as_a_data_frame_with_proper_classes(tmp_path):
    data, _ = render("r", [(TABLE, ROWS), (OTHER, OTHER_ROWS)], dictionary=True)
    found = run_r(tmp_path, data, "points", "other table", "data_dictionary")
    count, classes, rows = found["points"]
    assert count == len(ROWS)
    assert classes == POINT_CLASSES
    assert rows[0] == [c.name for c in TABLE.columns]
    assert found["other table"][:2] == (2, ["id=integer", "name=character"])
    assert found["other table"][2][1:] == [["1", "first"], ["2", "=second"]]
    assert found["data_dictionary"][2][1] == ["points", "id", "=ID", "integer", "The row's number."]


def test_r_keeps_text_exactly_and_none_as_na(tmp_path):
    rows = run_r(tmp_path, render("r")[0], "points")["points"][2][1:]
    assert [r[1] for r in rows] == [shown(r[1]) for r in ROWS]
    assert rows[-2] == ["100"] + ["<NA>"] * 7
    assert [r[7] for r in rows[:2]] == [
        '{"text": "plain", "n": [0, null]}',
        '{"text": "comma, inside", "n": [1, null]}',
    ]


def test_r_converts_numbers_booleans_dates_and_utc_times(tmp_path):
    rows = run_r(tmp_path, render("r")[0], "points")["points"][2][1:]
    for got, row in zip(rows[:-2], ROWS[:-2], strict=True):
        assert float(got[2]) == float(row[2])
        assert float(got[3]) == row[3]
        assert got[4] == ("TRUE" if row[4] else "FALSE")
        assert Decimal(got[5]) == Decimal(str(row[5].timestamp())).quantize(Decimal("0.000001"))
        assert got[6] == row[6].isoformat()


def test_r_keeps_carriage_returns_backslashes_and_empty_strings(tmp_path):
    table = Table("t", OTHER.columns)
    rows = [(1, "a\r\nb\rc\\r"), (2, ""), (3, None), (4, "NA"), (5, '\\"x\\"')]
    result = run_r(tmp_path, render("r", [(table, rows)])[0], "t")["t"]
    assert [r[1] for r in result[2][1:]] == ["a\r\nb\rc\\r", "", "<NA>", "NA", '\\"x\\"']


def test_the_script_is_ascii_and_rebuilds_unicode_in_the_c_locale(tmp_path):
    data, _ = render("r")
    assert data.isascii()
    script = save(tmp_path, "export.R", data)
    code = f'source("{script}"); cat(utf8ToInt(points$name[6]), Encoding(points$name[6]))'
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code],
        check=True,
        capture_output=True,
        text=True,
        env=env_c_locale(),
    )
    expected = " ".join(str(ord(c)) for c in ROWS[5][1])
    assert result.stdout == expected + " UTF-8"


def test_large_tables_are_split_into_several_string_literals(tmp_path, monkeypatch):
    monkeypatch.setattr(r_format, "BATCH", 2)
    monkeypatch.setattr(r_format, "CHUNK_CHARS", 10)
    data, _ = render("r")
    assert data.count(b'",\n"') >= 5
    rows = run_r(tmp_path, data, "points")["points"][2][1:]
    assert [r[1] for r in rows] == [shown(r[1]) for r in ROWS]


def test_an_empty_table_becomes_an_empty_typed_data_frame(tmp_path):
    count, classes, _ = run_r(tmp_path, render("r", [(TABLE, [])])[0], "points")["points"]
    assert count == 0
    assert classes[1:] == POINT_CLASSES[1:]


def test_non_syntactic_table_names_are_backquoted():
    data, _ = render("r", [(Table("other table", OTHER.columns), OTHER_ROWS)])
    assert b"\n`other table` <- .exportdesk_table(" in data


@pytest.mark.parametrize("name", ["if", "2x", "_x"])
def test_reserved_or_invalid_r_names_are_backquoted(name):
    assert r_format.r_name(name) == f"`{name}`"
