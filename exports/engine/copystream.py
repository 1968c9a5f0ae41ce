"""Reading COPY ... TO STDOUT: one table's statement built from per-column SQL expressions,
run with the export's time zone, its rows taken from libpq in chunks (raw lines, or tuples
parsed by psycopg in C for FORMAT binary)."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any

import psycopg
from django.db import connections
from django.db.models import Field, JSONField
from psycopg import pq

from exports.datasets.base import Column
from exports.engine.copysql import copyable, model_field, select_sql, wrap
from exports.engine.progress import Progress
from exports.engine.tables import TableSource


@dataclass(frozen=True)
class Copy:
    """One table's SELECT for COPY (None: the filters match nothing), its COPY options, its
    connection alias, the time zone PostgreSQL prints its times in, and the expressions the
    SELECT prints (over the dataset's columns, c0, c1...): the same for any part of the table."""

    source: TableSource
    alias: str
    select: str | None
    options: str
    zone: str = "UTC"
    expressions: tuple[str, ...] = ()

    @property
    def statement(self) -> str:
        return f"COPY ({self.select}) TO STDOUT ({self.options})"


def copy_statement(
    source: TableSource,
    expression: Callable[[Column, Field, str, str], str | None],
    copy_options: str,
    combine: Callable[[TableSource, list[str]], list[str]] | None = None,
    zone: str = "UTC",
) -> Copy | None:
    """None when a column has no exact SQL rendering or the dataset is not a plain projection."""
    if not copyable(source) or len(source.order) < 2:
        # One-column CSV differs: Python quotes a lone empty field, PostgreSQL a lone \.
        return None
    expressions = []
    for i, column in zip(source.order, source.columns, strict=True):
        field = model_field(source, column)
        sql = None if converted(field) else expression(column, field, f"c{i}", zone)
        if sql is None:
            return None
        expressions.append(sql)
    if combine is not None:
        expressions = combine(source, expressions)
    alias, select = selected(source, expressions)
    return Copy(source, alias, select, copy_options, zone, tuple(expressions))


def part_of(copy: Copy, source: TableSource) -> Copy:
    """The same COPY over another TableSource of the same dataset (a part of its rows)."""
    alias, select = selected(source, copy.expressions)
    return replace(copy, source=source, alias=alias, select=select)


def selected(source: TableSource, expressions: Sequence[str]) -> tuple[str, str | None]:
    """The connection alias and the SELECT of `expressions` over the table's rows."""
    connection, _, inner = select_sql(source)
    width = len(source.dataset.columns)
    return connection.alias, None if inner is None else wrap(inner, width, expressions)


def converted(field: Field) -> bool:
    """A field whose values Django converts after reading (from_db_value: an encrypted or
    custom field) prints differently in PostgreSQL; JSONField's conversion is mirrored."""
    return hasattr(field, "from_db_value") and not isinstance(field, JSONField)


def copy_lines(copy: Copy, progress: Progress) -> Iterator[list[memoryview]]:
    """PostgreSQL sends one message per row, so every item read is exactly one line; they
    come in lists of up to progress.every, counted as they are handed over."""
    progress.next_table()
    if copy.select is None:
        return
    with opened(copy) as rows:
        for chunk in copy_chunks(rows, progress.every):
            yield chunk
            progress.add(len(chunk))


def copy_tuples(copy: Copy, progress: Progress) -> Iterator[list[tuple[Any, ...]]]:
    """FORMAT binary rows as tuples, parsed by psycopg in C by the types the SELECT gives."""
    progress.next_table()
    if copy.select is None:
        return
    with opened(copy, typed=True) as rows:
        parse = rows.formatter.parse_row
        for chunk in copy_chunks(rows, progress.every):
            parsed = list(map(parse, chunk))
            if parsed[-1] is None:
                parsed.pop()  # the trailer that ends binary COPY data
            if parsed:
                yield parsed
                progress.add(len(parsed))


@contextmanager
def opened(copy: Copy, typed: bool = False) -> Iterator[Any]:
    with connections[copy.alias].cursor() as cursor, started(cursor.cursor, copy, typed) as rows:
        yield rows


@contextmanager
def started(cursor: Any, copy: Copy, typed: bool = False) -> Iterator[Any]:
    """The COPY running on a psycopg cursor, in the export's zone."""
    with session_zone(cursor, copy.zone):
        types = None
        if typed:
            cursor.execute(f"{copy.select} LIMIT 0")
            types = [d.type_code for d in cursor.description]
        with cursor.copy(copy.statement) as rows:
            if types is not None:
                rows.set_types(types)
            yield rows


def copy_chunks(copy: Any, size: int) -> Iterator[list[memoryview]]:
    """copy.read() in lists of `size`, minus psycopg's per-row generator and wait() (half
    the client's time): a row libpq already holds is taken at once; when none is buffered,
    copy.read() waits for the network as usual."""
    pgconn = copy.connection.pgconn
    get_copy_data, read = pgconn.get_copy_data, copy.read
    more = True
    while more:
        chunk: list[memoryview] = []
        append = chunk.append
        for _ in repeat(None, size):
            nbytes, data = get_copy_data(1)
            if nbytes == 0 and not (data := read()):
                more = False  # psycopg met the end and took the final result itself
                break
            if nbytes < 0:
                end_copy(pgconn, nbytes, copy.connection.info.encoding)
                more = False
                break
            append(data)
        if chunk:
            yield chunk


def end_copy(pgconn: Any, nbytes: int, encoding: str) -> None:
    """libpq said the COPY is over (-1) or broken (-2): take every result, as psycopg would,
    so the connection is ready for the next statement, and raise the server's error."""
    if nbytes == -2:
        raise psycopg.OperationalError(pgconn.get_error_message(encoding))
    error = None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK and error is None:
            error = psycopg.errors.error_from_result(result, encoding=encoding)
    if error is not None:
        raise error


@contextmanager
def session_zone(cursor: Any, zone: str) -> Iterator[None]:
    """PostgreSQL prints times in the session's TimeZone (and DateStyle): the export's zone and
    ISO, for this COPY only. Django reads timestamptz text assuming UTC, so the old settings
    are back before any other query on this connection (after an error, the rollback puts
    them back)."""
    cursor.execute("SELECT current_setting('TimeZone'), current_setting('DateStyle')")
    previous = cursor.fetchone()
    wanted = (zone, "ISO, " + previous[1].split(",")[-1].strip())
    if tuple(previous) == wanted:
        yield
        return
    cursor.execute(SET_SESSION, wanted)
    yield
    cursor.execute(SET_SESSION, previous)


SET_SESSION = "SELECT set_config('TimeZone', %s, true), set_config('DateStyle', %s, true)"
