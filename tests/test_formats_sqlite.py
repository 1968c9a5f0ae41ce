import io
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from exports.datasets import Column, get_dataset
from exports.engine import export_tables
from exports.formats import sqlite as sqlite_format
from exports.formats.base import Table
from tests.test_formats_support import BIG, OTHER, OTHER_ROWS, ROWS, TABLE, render, save

TYPES = ["integer", "text", "real", "integer", "text", "text", "text"]
WEIRD = Table(
    'we"ird; DROP', (Column('sel"ect', "x", kind="text"), Column("ID", "y", kind="integer"))
)


def build(tmp_path: Path, fmt: str, tables=((TABLE, ROWS),), dictionary=False) -> Path:
    """The database a user ends up with: the sqlite file, or the SQL text run by the CLI."""
    data, _ = render(fmt, tables, dictionary=dictionary)
    if fmt == "sqlite":
        return save(tmp_path, "export.sqlite3", data)
    database = tmp_path / "from-sql.db"
    subprocess.run(["sqlite3", str(database)], input=data, check=True, capture_output=True)
    return database


def query(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute(sql).fetchall()


def test_it_builds_one_typed_table_per_table(tmp_path):
    database = build(tmp_path, "sqlite", [(TABLE, ROWS), (OTHER, OTHER_ROWS)], dictionary=True)
    names = [r[0] for r in query(database, "SELECT name FROM sqlite_master ORDER BY rowid")]
    assert names == ["points", "other table", "data_dictionary"]
    declared = [r[2] for r in query(database, "PRAGMA table_info(points)")]
    assert declared == [
        "INTEGER",
        "TEXT",
        "NUMERIC",
        "REAL",
        "BOOLEAN",
        "DATETIME",
        "DATE",
        "TEXT",
    ]
    assert query(database, 'SELECT * FROM "other table"') == OTHER_ROWS


def test_values_keep_their_types(tmp_path):
    database = build(tmp_path, "sqlite")
    row = query(database, "SELECT *, typeof(id), typeof(amount), typeof(active) FROM points")[1]
    assert row == (
        2,
        "comma, inside",
        -1.5,
        0.25,
        0,
        "2026-03-04T05:06:07.001+00:00",
        "2026-01-02",
        '{"text": "comma, inside", "n": [1, null]}',
        "integer",
        "real",
        "integer",
    )


def test_text_survives_exactly_and_none_is_null(tmp_path):
    database = build(tmp_path, "sqlite")
    assert [r[0] for r in query(database, "SELECT name FROM points")] == [r[1] for r in ROWS]
    assert query(database, "SELECT * FROM points WHERE id = 100") == [(100,) + (None,) * 7]
    with sqlite3.connect(database) as db:
        found = db.execute("SELECT id, amount FROM points WHERE id = ?", (BIG,)).fetchall()
    assert found == [(BIG, 12345678.125)]


def test_the_sqlite_cli_opens_the_file(tmp_path):
    database = build(tmp_path, "sqlite")
    result = subprocess.run(
        ["sqlite3", str(database), "SELECT count(*), sum(active) FROM points;"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == f"{len(ROWS)}|8"


def test_identifiers_are_quoted_and_reserved_names_avoided(tmp_path):
    tables = [(WEIRD, [("x", 1)]), (Table("sqlite_master", OTHER.columns), [])]
    database = build(tmp_path, "sqlite", tables)
    names = [r[0] for r in query(database, "SELECT name FROM sqlite_master ORDER BY rowid")]
    assert names == ['we"ird; DROP', "t_sqlite_master"]
    assert query(database, 'SELECT "sel""ect", "ID" FROM "we""ird; DROP"') == [("x", 1)]


def test_no_temporary_file_is_left_behind(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    render("sqlite")
    assert list(scratch.iterdir()) == []


def test_the_database_is_built_in_exports_tmp_dir_with_no_file_of_sqlites_own(
    demo_data, settings, tmp_path, monkeypatch
):
    """Immediate downloads and the CLI pass no scratch dir: EXPORTS_TMP_DIR is the default."""
    scratch, system = tmp_path / "exports-tmp", tmp_path / "system-tmp"
    scratch.mkdir()
    system.mkdir()
    settings.EXPORTS_TMP_DIR = str(scratch)
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    seen = []

    def look(rows: int) -> None:
        seen.append((rows, sorted(p.name for p in scratch.iterdir()), list(system.iterdir())))

    tables = [(get_dataset("user_points"), {"limit": 250})]
    export_tables(io.BytesIO(), tables, "sqlite", on_progress=look, progress_every=100)
    assert [rows for rows, _, _ in seen] == [100, 200, 250]
    for _, during, elsewhere in seen[:2]:  # the last report comes after the file is copied
        assert len(during) == 1 and during[0].endswith(".sqlite3")  # no journal, no temp file
        assert elsewhere == []
    assert list(scratch.iterdir()) == []


def test_rows_inserted_many_to_a_statement_are_stored_alike(tmp_path, monkeypatch):
    every = (
        "SELECT *, typeof(id), typeof(name), typeof(amount), typeof(ratio), typeof(active),"
        " typeof(created), typeof(day), typeof(data) FROM points ORDER BY rowid"
    )
    (tmp_path / "one").mkdir()
    one_by_one = query(build(tmp_path / "one", "sqlite"), every)
    monkeypatch.setattr(sqlite_format, "ROWS_PER_INSERT", 4)  # 17 rows: 4 statements and 1 row
    (tmp_path / "many").mkdir()
    assert query(build(tmp_path / "many", "sqlite"), every) == one_by_one
    assert len(one_by_one) == len(ROWS) > 2 * 4
