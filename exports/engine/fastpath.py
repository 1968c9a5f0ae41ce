"""Whole-file fast paths: PostgreSQL prints every row (COPY ... TO STDOUT) and Python only
joins the lines. Each one produces the same bytes as its Python writer fed by
Dataset.rows(); tests/test_fastpath.py holds them to that.
"""

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connections
from django.db.models import Field
from psycopg import pq

from exports.datasets.base import Column
from exports.engine.copysql import (
    copyable,
    csv_sql,
    json_sql,
    literal,
    model_field,
    select_sql,
    wrap,
)
from exports.engine.progress import Progress
from exports.engine.tables import TableSource
from exports.formats import WRITERS, Options
from exports.formats.base import delimiter_of, neutralise
from exports.formats.csv import BOM

# JSON text never holds raw control characters, so with these as CSV delimiter and quote
# COPY passes each JSON line through untouched.
JSON_LINE = r"FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02'"
TSV_LINE = r"FORMAT csv, DELIMITER E'\t'"


def csv_line(delimiter: str) -> str:
    return f"FORMAT csv, DELIMITER {literal(delimiter)}"


@dataclass(frozen=True)
class Copy:
    """One table's COPY statement (None: the filters match nothing), its connection alias and
    the time zone PostgreSQL prints its times in."""

    source: TableSource
    alias: str
    statement: str | None
    zone: str = "UTC"


def copy_statement(
    source: TableSource,
    expression: Callable[[Column, Field, str], str | None],
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
        sql = expression(column, model_field(source, column), f"c{i}")
        if sql is None:
            return None
        expressions.append(sql)
    if combine is not None:
        expressions = combine(source, expressions)
    connection, _, inner = select_sql(source)
    if inner is None:
        return Copy(source, connection.alias, None, zone)
    select = wrap(inner, len(source.dataset.columns), expressions)
    return Copy(source, connection.alias, f"COPY ({select}) TO STDOUT ({copy_options})", zone)


def copy_lines(copy: Copy, progress: Progress) -> Iterator[list[memoryview]]:
    """PostgreSQL sends one message per row, so every item read is exactly one line; they
    come in lists of up to progress.every, counted as they are handed over."""
    progress.next_table()
    if copy.statement is None:
        return
    with (
        connections[copy.alias].cursor() as cursor,
        session_zone(cursor.cursor, copy.zone),
        cursor.cursor.copy(copy.statement) as rows,
    ):
        for chunk in copy_chunks(rows, progress.every):
            yield chunk
            progress.add(len(chunk))


def copy_chunks(copy: Any, size: int) -> Iterator[list[memoryview]]:
    """copy.read() in lists of `size`, minus psycopg's per-row generator and wait() (half
    the client's time): a row libpq already holds is taken at once; when none is buffered,
    copy.read() waits for the network as usual."""
    pgconn = copy.connection.pgconn
    get_copy_data, read = pgconn.get_copy_data, copy.read
    chunk: list[memoryview] = []
    append = chunk.append
    while True:
        nbytes, data = get_copy_data(1)
        if nbytes == 0 and not (data := read()):
            break  # psycopg met the end and took the final result itself
        if nbytes < 0:
            end_copy(pgconn, nbytes, copy.connection.info.encoding)
            break
        append(data)
        if len(chunk) >= size:
            yield chunk
            chunk = []
            append = chunk.append
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
    """PostgreSQL prints times in the session's TimeZone: the export's, for this COPY only.
    Django reads timestamptz text assuming UTC, so the old zone is back before any other
    query on this connection (after an error, the rollback puts it back)."""
    cursor.execute("SELECT current_setting('TimeZone')")
    (previous,) = cursor.fetchone()
    if previous == zone:
        yield
        return
    cursor.execute("SELECT set_config('TimeZone', %s, true)", [zone])
    yield
    cursor.execute("SELECT set_config('TimeZone', %s, true)", [previous])


def csv_lines(copy: Copy, progress: Progress) -> Iterator[bytes]:
    """Python's csv module ends lines with \\r\\n, COPY with \\n. A block whose only
    newlines end its lines is fixed with one replace() in C; one with a quoted newline inside
    a field is fixed line by line."""
    for chunk in copy_lines(copy, progress):
        block = b"".join(chunk)
        if block.count(b"\n") == len(chunk):
            yield block.replace(b"\n", b"\r\n")
        else:
            yield b"\r\n".join([line[:-1] for line in chunk]) + b"\r\n"


def header(source: TableSource, delimiter: str) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerow(neutralise(c.heading) for c in source.columns)
    return text.getvalue().encode()


def _csv_column(column: Column, field: Field, ref: str) -> str | None:
    return csv_sql(field, ref)


def _json_object(source: TableSource, values: list[str]) -> list[str]:
    """One column per row: the object text JsonWriter writes, `{"name": value, ...}`.
    One concat() call, not a chain of ||, so PostgreSQL builds the text once."""
    parts = []
    for n, (column, value) in enumerate(zip(source.columns, values, strict=True)):
        key = ("{" if n == 0 else ", ") + json_string(column.name) + ": "
        parts += [literal(key), value]
    return [f"concat({', '.join(parts)}, '}}')"]


def write_csv(out, sources: Sequence[TableSource], options: Options, progress: Progress) -> bool:
    """CsvWriter's output: the byte order mark if asked for, then each table's heading line
    and its rows."""
    delimiter = delimiter_of(options.delimiter)
    line, zone = csv_line(delimiter), options.time_zone
    copies = [copy_statement(s, _csv_column, line, zone=zone) for s in sources]
    if None in copies:
        return False
    if options.bom:
        out.write(BOM)
    for copy in copies:
        out.write(header(copy.source, delimiter))
        for block in csv_lines(copy, progress):
            out.write(block)
    return True


def write_tsv_zip(
    out, sources: Sequence[TableSource], options: Options, progress: Progress
) -> bool:
    """TsvZipWriter's members, byte for byte (compressed faster, so the zip itself differs)."""
    from exports.formats.tsv_zip import file_stem

    copies = [copy_statement(s, _csv_column, TSV_LINE, zone=options.time_zone) for s in sources]
    if None in copies:
        return False
    names: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for copy in copies:
            name = unique_name(file_stem(copy.source.name), names) + ".tsv"
            with archive.open(name, "w", force_zip64=True) as member:
                member.write(header(copy.source, "\t"))
                for block in csv_lines(copy, progress):
                    member.write(block)
    return True


def write_json(out, sources: Sequence[TableSource], options: Options, progress: Progress) -> bool:
    """JsonWriter's output: an array of objects, or an object of arrays for several tables."""
    zone = options.time_zone
    copies = [copy_statement(s, json_sql, JSON_LINE, _json_object, zone) for s in sources]
    if None in copies:
        return False
    multi = len(copies) > 1 or options.data_dictionary or options.extra.get("multi_table")
    names: set[str] = set()
    for n, copy in enumerate(copies):
        if multi:
            name = unique_name(copy.source.name, names)
            out.write((("{\n" if not n else ",\n") + json_string(name) + ": [").encode())
        else:
            out.write(b"[")
        separator = b"\n"
        for chunk in copy_lines(copy, progress):
            # JSON text holds no raw newline: the only ones end lines.
            out.write(separator + b"".join(chunk)[:-1].replace(b"\n", b",\n"))
            separator = b",\n"
        out.write(b"\n]" if separator == b",\n" else b"]")
    out.write(b"\n}\n" if multi else b"\n")
    return True


def json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def unique_name(name: str, taken: set[str]) -> str:
    """Writer.unique_name(): tables in one file get distinct, case-blind names."""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate.casefold())
    return candidate


FastPath = Callable[..., bool]

# format -> (the writer it stands in for, the fast path). A format re-registered with
# another writer loses its fast path rather than silently diverging from it.
FAST_PATHS: dict[str, tuple[str, FastPath]] = {
    "csv": ("exports.formats.csv.CsvWriter", write_csv),
    "json": ("exports.formats.json.JsonWriter", write_json),
    "tsvzip": ("exports.formats.tsv_zip.TsvZipWriter", write_tsv_zip),
}


def fast_path(fmt: str, options: Options) -> FastPath | None:
    """The data dictionary is the writer's business, so it takes the writer's path."""
    entry = FAST_PATHS.get(fmt)
    if entry is None or options.data_dictionary or WRITERS.get(fmt, ("", ""))[1] != entry[0]:
        return None
    return entry[1]
