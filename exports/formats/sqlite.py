"""A SQLite database file, built in a scratch file and copied into `out` when finished."""

import contextlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from itertools import chain, islice, repeat
from typing import Any

from exports.formats.base import UTC_ZONE, Table, Writer, iso_text, text_of

BATCH = 10_000
ROWS_PER_INSERT = 500
VARIABLES = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
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


class TextBinder:
    """Text, and times as ISO 8601 text in the export's zone with their UTC offset (SQLite's
    date functions read the offset: datetime(x) is the instant in UTC)."""

    def __init__(self, zone: tzinfo = UTC_ZONE) -> None:
        self.zone = zone

    def __call__(self, value: Any) -> Any:
        return value if value is None or type(value) is str else text_of(value, self.zone)


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


BINDERS: dict[str, Callable[[Any], Any]] = {
    "integer": _integer,
    "decimal": _decimal,
    "json": _json,
    "float": lambda v: v if v is None else float(v),
    "boolean": lambda v: v,
}


def binders(table: Table, zone: tzinfo = UTC_ZONE) -> list[Callable[[Any], Any]]:
    """Values as sqlite3 can bind them; the SQL writer produces the same stored values."""
    text = TextBinder(zone)
    return [BINDERS.get(c.kind, text) for c in table.columns]


# The fast path below converts a batch a column at a time and only where it must: a column
# whose values all have types its binder returns unchanged goes to sqlite3 as it is, and the
# common conversions run as C-level maps. Anything else goes through the binder itself, so
# every stored value is exactly what binders() makes of it.
NONE = type(None)
TEXT_TYPES = frozenset({str, NONE})


def _iso_or_none(value: Any, zone: tzinfo) -> Any:
    """TextBinder() of a datetime or None."""
    return None if value is None else iso_text(value, zone)


# A fraction of a second with trailing zeros, before the offset: iso_text() drops them.
TRAILING_ZEROS = re.compile(r"(\.\d*[1-9])0+(?=[+-])")


def _iso_texts(values: tuple[datetime, ...], zone: tzinfo) -> list[str]:
    """iso_text() of a column of datetimes, with the per-value work done in C."""
    joined = "\n".join(map(datetime.isoformat, map(datetime.astimezone, values, repeat(zone))))
    return TRAILING_ZEROS.sub(r"\1", joined).split("\n")


def _date_text_or_none(value: Any) -> Any:
    """TextBinder() of a date (not a datetime) or None."""
    return None if value is None else value.isoformat()


def _bind_column(bind: Callable[[Any], Any], values: tuple[Any, ...]) -> Sequence[Any]:
    """[bind(v) for v in values]; `values` itself when that changes nothing."""
    types = set(map(type, values))
    if types <= {NONE}:
        return values  # every binder keeps None
    if isinstance(bind, TextBinder):
        if types <= TEXT_TYPES:
            return values
        if types == {datetime} and values[0].tzinfo is not None:
            return _iso_texts(values, bind.zone)  # a naive column goes through iso_text()
        if types <= {datetime, NONE}:
            return list(map(_iso_or_none, values, repeat(bind.zone)))
        if types <= {date, NONE}:
            return list(map(_date_text_or_none, values))
    elif bind is _integer:
        # filter(None, ...) leaves out None, and zeros, which are in range anyway.
        if (
            types <= {int, NONE}
            and min(filter(None, values), default=0) >= -INT64
            and max(filter(None, values), default=0) < INT64
        ):
            return values
    elif bind is _decimal:
        if types <= {int, float, str, NONE}:
            return values
        if types == {Decimal}:
            return list(map(str, values))
    elif bind is BINDERS["boolean"] or (bind is BINDERS["float"] and types <= {float, NONE}):
        return values
    return list(map(bind, values))


def bindable(batch: list[Sequence[Any]], binds: list[Callable[[Any], Any]]) -> Iterable[Any]:
    """The batch's rows with every value as its column's binder makes it."""
    if set(map(len, batch)) != {len(binds)}:
        raise ValueError(f"Every row must have {len(binds)} values.")
    columns = list(zip(*batch, strict=True))
    bound = [_bind_column(bind, values) for bind, values in zip(binds, columns, strict=True)]
    if all(b is c for b, c in zip(bound, columns, strict=True)):
        return batch
    return zip(*bound, strict=True)


class SqliteWriter(Writer):
    extension = "sqlite3"
    content_type = "application/vnd.sqlite3"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fd, self.path = tempfile.mkstemp(
            prefix="exportdesk-", suffix=".sqlite3", dir=self.options.scratch_dir
        )
        os.close(fd)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        # A private scratch file: no journal, no syncs, no locking dance, bigger pages, and
        # no temporary files of SQLite's own (they would go to /var/tmp or /tmp).
        for pragma in (
            "page_size=16384",
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            "temp_store=MEMORY",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        # A writer abandoned mid-export must not leave its temporary file behind.
        self._discard = weakref.finalize(self, _discard, self.db, self.path)

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        binds = binders(table, self.zone)
        rows = iter(rows)
        batches = iter(lambda: list(islice(rows, BATCH)), [])
        return self.write_bound(table, (bindable(batch, binds) for batch in batches))

    def write_bound(self, table: Table, batches: Iterable[Iterable[Sequence[Any]]]) -> int:
        """Batches of rows whose values are already what binders() makes of them."""
        return self.write_flat(table, (list(chain.from_iterable(b)) for b in batches))

    def write_flat(self, table: Table, batches: Iterable[list[Any]]) -> int:
        """Batches of values, row after row, already what binders() makes of them (the COPY
        fast path has PostgreSQL make them so)."""
        name = self.unique_name(table_name(table.name))
        width = max(len(table.columns), 1)
        marks = "(" + ", ".join("?" * width) + ")"
        # Many rows per INSERT: a third less CPU than one statement step per row.
        per = max(1, min(ROWS_PER_INSERT, self.db.getlimit(VARIABLES) // width))
        insert = f"INSERT INTO {quote_identifier(name)} VALUES "  # noqa: S608
        one, many = insert + marks, insert + ", ".join([marks] * per)
        step = per * width
        self.db.execute("BEGIN")
        self.db.execute(create_statement(name, table))
        before = self.db.total_changes
        for values in batches:
            if len(values) % width:
                raise ValueError(f"Every row must have {width} values.")
            full = len(values) - len(values) % step
            for start in range(0, full, step):
                self.db.execute(many, values[start : start + step])
            self.db.executemany(one, zip(*[iter(values[full:])] * width, strict=False))
        count = self.db.total_changes - before
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
