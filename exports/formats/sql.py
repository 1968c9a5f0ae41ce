"""SQL text (SQLite dialect) that builds the same database the sqlite format writes."""

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from exports.formats.base import Table, Writer, text_of
from exports.formats.sqlite import binders, create_statement, quote_identifier, table_name

ROWS_PER_INSERT = 500
HEADER = "-- Exportdesk export; run with: sqlite3 new.db < this.sql\nBEGIN TRANSACTION;\n"


def quote_string(text: str) -> str:
    quoted = "'" + text.replace("'", "''") + "'"
    if "\x00" in text:  # a quoted literal ends at NUL in SQLite's parser
        quoted = "(" + quoted.replace("\x00", "'||char(0)||'") + ")"
    return quoted


def quote_float(value: float) -> str:
    if math.isnan(value):
        return "NULL"  # what SQLite itself stores for a bound NaN
    if math.isinf(value):
        return "9e999" if value > 0 else "-9e999"
    return repr(value)


LITERALS: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "NULL",
    bool: lambda v: "1" if v else "0",
    int: str,
    float: quote_float,
    str: quote_string,
}


def _other(value: Any) -> str:
    return str(int(value)) if isinstance(value, int) else quote_string(text_of(value))


class SqlWriter(Writer):
    extension = "sql"
    content_type = "application/sql"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out.write(HEADER.encode())

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        name = self.unique_name(table_name(table.name))
        self.out.write((create_statement(name, table) + ";\n").encode())
        insert = f"INSERT INTO {quote_identifier(name)} VALUES\n"
        convert = binders(table, self.zone)
        literals = LITERALS
        batch: list[str] = []
        count = 0
        for row in rows:
            values = [f(v) for f, v in zip(convert, row, strict=True)]
            batch.append("(" + ",".join([literals.get(type(v), _other)(v) for v in values]) + ")")
            count += 1
            if len(batch) >= ROWS_PER_INSERT:
                self.out.write((insert + ",\n".join(batch) + ";\n").encode())
                batch = []
        if batch:
            self.out.write((insert + ",\n".join(batch) + ";\n").encode())
        return count

    def close(self) -> None:
        self.out.write(b"COMMIT;\n")
