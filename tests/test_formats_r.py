import re
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from exports.datasets import get_dataset
from exports.engine import export
from exports.formats import r as r_format
from exports.formats.base import Table
from project.demo.models import UserPoint
from project.demo.seed import top_up
from tests.test_formats_support import (
    COLUMNS,
    OTHER,
    OTHER_ROWS,
    ROWS,
    TABLE,
    env_c_locale,
    render,
    save,
)

LOCALES = {"C": env_c_locale(), "C.UTF-8": {**env_c_locale(), "LC_ALL": "C.UTF-8"}}
# Sources the script, then dumps each data.frame's classes and values for Python to check.
# The values are written as UTF-8 bytes whatever the locale: fields end in \037, rows in
# \036, and a backslash escapes a backslash (\\), \036 (\r) or \037 (\u) inside a value.
CHECK = r"""
args <- commandArgs(TRUE)
source(args[1])
escape <- function(x) {
  for (pair in list(c("\\", "\\\\"), c("\036", "\\r"), c("\037", "\\u")))
    x <- gsub(pair[1], pair[2], x, fixed = TRUE, useBytes = TRUE)
  x
}
for (name in args[-(1:2)]) {
  df <- get(name)
  classes <- vapply(df, function(x) class(x)[1], "")
  chars <- vapply(df, function(x) if (is.character(x)) sum(nchar(x[!is.na(x)])) else 0, 0)
  writeLines(c(nrow(df), paste(names(df), classes, sep = "="), sum(chars)),
             file.path(args[2], paste0(name, ".classes")), useBytes = TRUE)
  shown <- lapply(df, function(x) {
    text <- if (inherits(x, "POSIXct")) sprintf("%.6f", as.numeric(x)) else as.character(x)
    ifelse(is.na(x), "<NA>", escape(enc2utf8(text)))
  })
  rows <- c(paste(escape(names(df)), collapse = "\037"),
            if (nrow(df)) do.call(paste, c(unname(shown), sep = "\037")))
  out <- file(file.path(args[2], paste0(name, ".dump")), "wb")
  writeLines(rows, out, sep = "\036", useBytes = TRUE)
  close(out)
}
"""
ESCAPED = re.compile(r"\\(.)")
UNESCAPE = {"\\": "\\", "r": "\x1e", "u": "\x1f"}
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


def source_r(script: Path, names, env=None, timeout: float = 120) -> dict[str, tuple]:
    """nrow, classes (plus the characters R counts in its text columns) and the rows, as
    `Rscript --vanilla` sees them after source()."""
    out = script.parent
    check = save(out, "check.R", CHECK.encode())
    command = ["Rscript", "--vanilla", str(check), str(script), str(out), *names]
    done = subprocess.run(command, capture_output=True, env=env, timeout=timeout, text=True)
    assert done.returncode == 0, done.stderr
    result = {}
    for name in names:
        lines = (out / f"{name}.classes").read_text(encoding="utf-8").splitlines()
        dump = (out / f"{name}.dump").read_bytes().decode("utf-8")
        rows = [
            [ESCAPED.sub(lambda m: UNESCAPE[m.group(1)], v) for v in line.split("\x1f")]
            for line in dump.split("\x1e")[:-1]
        ]
        result[name] = (int(lines[0]), lines[1:-1], rows, int(lines[-1]))
    return result


def run_r(tmp_path: Path, data: bytes, *names: str, env=None) -> dict[str, tuple]:
    return {
        name: found[:3]
        for name, found in source_r(save(tmp_path, "export.R", data), names, env).items()
    }


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


@pytest.mark.parametrize("locale", LOCALES)
def test_any_table_name_becomes_that_data_frame_name(tmp_path, locale):
    name = 'back\\slash `tick` "quote" Zoë'
    data, _ = render("r", [(Table(name, OTHER.columns), OTHER_ROWS)])
    script = save(tmp_path, "t.R", data)
    code = f'source("{script}"); cat(utf8ToInt(ls()), nrow(get(ls())))'
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code], capture_output=True, text=True, env=LOCALES[locale]
    )
    assert result.stdout.split() == [*map(str, map(ord, name)), "2"], result.stderr


@pytest.mark.parametrize("name", ["if", "2x", "_x"])
def test_reserved_or_invalid_r_names_are_backquoted(name):
    assert r_format.r_name(name) == f"`{name}`"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_cell_longer_than_r_escaped_string_limits_round_trips(tmp_path, locale):
    """R's parser refuses a literal over 10,000 characters that holds \\u escapes."""
    long = ('Zoë 日本語 🎲 "q" back\\slash\r\nnew line, comma\t' * 700)[:25_000]
    rows = [(1, long), (2, "é" * 12_000), (3, None), (4, "")]
    found = source_r(
        save(tmp_path, "t.R", render("r", [(Table("t", OTHER.columns), rows)])[0]),
        ["t"],
        LOCALES[locale],
    )["t"]
    count, classes, values, chars = found
    assert (count, classes) == (4, ["id=integer", "name=character"])
    assert [v[1] for v in values[1:]] == [long, "é" * 12_000, "<NA>", ""]
    assert chars == 25_000 + 12_000  # R counts characters, not bytes: the text is UTF-8


@pytest.mark.parametrize("locale", LOCALES)
def test_control_characters_quotes_and_emoji_round_trip(tmp_path, locale):
    controls = "".join(map(chr, [*range(1, 32), 127]))
    texts = [controls, 'say "hi", \\n is not a newline', "🎲😀 \u2028 \ufeff", "\\x41 \\u00e9"]
    rows = [*enumerate(texts, 1), (5, "nul\x00inside")]
    data, writer = render("r", [(Table("t", OTHER.columns), rows)])
    values = run_r(tmp_path, data, "t", env=LOCALES[locale])["t"][2]
    assert [v[1] for v in values[1:]] == [*texts, "nulinside"]
    assert writer.notes == ["Removed 1 control character that an R string cannot hold."]


def test_times_from_any_zone_keep_their_instant(tmp_path):
    paris = ZoneInfo("Europe/Paris")
    times = [
        datetime(2026, 3, 29, 1, 59, 59, tzinfo=paris),  # the last second before summer time
        datetime(2026, 3, 29, 3, 0, 0, 250000, tzinfo=paris),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=paris),  # the second 02:30 that night
        datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ]
    table = Table("t", (COLUMNS[0], COLUMNS[5]))
    values = run_r(tmp_path, render("r", [(table, list(enumerate(times)))])[0], "t")["t"][2]
    assert [Decimal(v[1]) for v in values[1:]] == [Decimal(f"{t.timestamp():.6f}") for t in times]


@pytest.fixture
def many_points(db) -> int:
    top_up(100_000)
    return UserPoint.objects.count()


def expected_points() -> list[list[str]]:
    """Every user point as the dump shows it, from the ORM."""
    columns = ("id", "user_id", "user__username", "game_id", "game__name", "task_id")
    query = UserPoint.objects.order_by("pk").values_list(
        *columns, "task__name", "points", "created"
    )
    return [[*map(str, row[:8]), f"{row[8].timestamp():.6f}"] for row in query.iterator(5000)]


def test_rscript_sources_a_100k_row_user_points_export_in_c_and_utf8_locales(tmp_path, many_points):
    script = tmp_path / "user_points.R"
    with script.open("wb") as out:
        assert export(out, get_dataset("user_points"), "r").rows == many_points >= 100_000
    expected = expected_points()
    assert sum(not "".join(row).isascii() for row in expected) > 1000  # real non-ASCII text
    for env in LOCALES.values():
        count, classes, rows, chars = source_r(script, ["user_points"], env, 600)["user_points"]
        assert count == many_points
        assert classes == [
            "id=integer",
            "user_id=integer",
            "username=character",
            "game_id=integer",
            "game=character",
            "task_id=integer",
            "task=character",
            "points=integer",
            "created=POSIXct",
        ]
        assert rows[0] == [c.name for c in get_dataset("user_points").columns]
        assert rows[1:] == expected
        assert chars == sum(len(row[i]) for row in expected for i in (2, 4, 6))
