import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

from exports.formats.base import Table
from tests.test_formats_sqlite import WEIRD, build, query
from tests.test_formats_support import OTHER, OTHER_ROWS, ROWS, TABLE, render


def typed_dump(database: Path) -> dict[str, list[tuple]]:
    """Every table's rows with each value's SQLite storage class."""
    tables = [r[0] for r in query(database, "SELECT name FROM sqlite_master")]
    dump = {}
    with sqlite3.connect(database) as db:
        for name in tables:
            quoted = '"' + name.replace('"', '""') + '"'
            rows = db.execute(f"SELECT * FROM {quoted}").fetchall()  # noqa: S608
            dump[name] = [tuple((v, type(v).__name__) for v in row) for row in rows]
    return dump


def test_the_sqlite_cli_builds_the_same_database_from_the_sql_text(tmp_path):
    tables = [(TABLE, ROWS), (OTHER, OTHER_ROWS), (WEIRD, [("it's", 1)])]
    from_file = build(tmp_path, "sqlite", tables, dictionary=True)
    from_sql = build(tmp_path, "sql", tables, dictionary=True)
    assert typed_dump(from_sql) == typed_dump(from_file)
    assert query(from_sql, 'SELECT * FROM "other table"') == OTHER_ROWS


def test_strings_with_quotes_newlines_and_nul_survive(tmp_path):
    rows = [('it\'s "quoted"\n;--', 1), ("nul\x00inside", 2), ("😀", 3)]
    database = build(tmp_path, "sql", [(WEIRD, rows)])
    assert query(database, 'SELECT * FROM "we""ird; DROP"') == rows


def test_non_finite_floats_match_what_sqlite_stores(tmp_path):
    rows = [(1, "x", Decimal("1.5"), float("inf"), True, None, None, None)]
    rows.append((2, "y", None, float("nan"), None, None, None, None))
    from_file = build(tmp_path, "sqlite", [(TABLE, rows)])
    from_sql = build(tmp_path, "sql", [(TABLE, rows)])
    assert typed_dump(from_sql) == typed_dump(from_file)
    assert query(from_sql, "SELECT ratio FROM points") == [(float("inf"),), (None,)]


def test_inserts_are_multi_row_statements_in_one_transaction():
    data, _ = render("sql", [(OTHER, [(i, "x") for i in range(1200)])])
    text = data.decode()
    assert text.count("INSERT INTO") == 3
    assert text.startswith("-- ") and "BEGIN TRANSACTION;" in text
    assert text.endswith("COMMIT;\n")


def test_an_empty_table_is_created_without_inserts(tmp_path):
    database = build(tmp_path, "sql", [(Table("empty", OTHER.columns), [])])
    assert query(database, "SELECT count(*) FROM empty") == [(0,)]
    assert subprocess.run(["sqlite3", str(database), ".schema"], capture_output=True).stdout
