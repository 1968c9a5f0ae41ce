"""A SQLite database file, built in a temporary file and copied into `out` when finished."""

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import Any

from exports.formats.base import Table, Writer, text_of

BATCH = 10_000
INT64 = 2**63
# Declared types as Django's SQLite backend names them; decimals get NUMERIC affinity, so
# SQLite keeps them as REAL when that is exact and as TEXT when it is not.
SQL_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "decimal": "NUMERIC",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "DATETIME",
    "json": "TEXT",
}


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_name(name: str) -> str:
    """SQLite reserves the sqlite_ prefix for itself."""
    name = name.replace("\x00", "") or "table"
    return "t_" + name if name.lower().startswith("sqlite_") else name


def create_statement(name: str, table: Table) -> str:
    seen: set[str] = set()
    columns = []
    for c in table.columns:
        column, n = c.name, 1
        while column.casefold() in seen:
            n += 1
            column = f"{c.name}_{n}"
        seen.add(column.casefold())
        columns.append(f"{quote_identifier(column)} {SQL_TYPES.get(c.kind, 'TEXT')}")
    return f"CREATE TABLE {quote_identifier(name)} (\n  " + ",\n  ".join(columns) + "\n)"


def _integer(value: Any) -> Any:
    if value is None or -INT64 <= value < INT64:
        return value
    return str(value)


def _decimal(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _text(value: Any) -> Any:
    return value if value is None or type(value) is str else text_of(value)


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


BINDERS: dict[str, Callable[[Any], Any]] = {
    "integer": _integer,
    "decimal": _decimal,
    "json": _json,
    "float": lambda v: v if v is None else float(v),
    "boolean": lambda v: v,
}


def binders(table: Table) -> list[Callable[[Any], Any]]:
    """Values as sqlite3 can bind them; the SQL writer produces the same stored values."""
    return [BINDERS.get(c.kind, _text) for c in table.columns]


class SqliteWriter(Writer):
    extension = "sqlite3"
    content_type = "application/vnd.sqlite3"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fd, self.path = tempfile.mkstemp(prefix="exportdesk-", suffix=".sqlite3")
        os.close(fd)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        # A writer abandoned mid-export must not leave its temporary file behind.
        self._discard = weakref.finalize(self, _discard, self.db, self.path)

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        name = self.unique_name(table_name(table.name))
        convert = binders(table)
        marks = ", ".join("?" * len(table.columns))
        insert = f"INSERT INTO {quote_identifier(name)} VALUES ({marks})"  # noqa: S608
        converted: Iterator[list[Any]] = (
            [f(v) for f, v in zip(convert, row, strict=True)] for row in rows
        )
        count = 0
        self.db.execute("BEGIN")
        self.db.execute(create_statement(name, table))
        while batch := list(islice(converted, BATCH)):
            self.db.executemany(insert, batch)
            count += len(batch)
        self.db.execute("COMMIT")
        return count

    def close(self) -> None:
        self.db.close()
        try:
            with open(self.path, "rb") as built:
                shutil.copyfileobj(built, self.out, 1024 * 1024)
        finally:
            self._discard()


def _discard(db: sqlite3.Connection, path: str) -> None:
    db.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
