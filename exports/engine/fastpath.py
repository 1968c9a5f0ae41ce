"""Whole-file fast paths: PostgreSQL prints every row (COPY ... TO STDOUT) and Python only
joins the lines (or, for SQLite, inserts values PostgreSQL already made what the writer
would). Each one produces the same bytes (the same database) as its Python writer fed by
Dataset.rows(); tests/test_fastpath.py holds them to that.
"""

import csv
import io
import json
import queue
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db.models import Field

from exports.datasets.base import Column, may_be_null
from exports.engine.copysql import (
    JSON_UNQUOTED,
    csv_sql,
    json_bare_sql,
    json_sql,
    literal,
    sqlite_sql,
    sqlite_text_sql,
)
from exports.engine.copystream import Copy, copy_lines, copy_statement, copy_tuples
from exports.engine.copytext import backslashes, split_values, unescape, value_indices
from exports.engine.halves import copy_blocks
from exports.engine.jsonblocks import json_rows
from exports.engine.progress import Progress
from exports.engine.tables import TableSource
from exports.formats import WRITERS, Options
from exports.formats.base import delimiter_of, neutralise
from exports.formats.csv import BOM

# JSON text never holds raw control characters, so with these as CSV delimiter and quote
# COPY passes each JSON line through untouched.
JSON_LINE = r"FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02'"
TSV_LINE = r"FORMAT csv, DELIMITER E'\t'"
TEXT = "FORMAT text"
BINARY = "FORMAT binary"


def csv_line(delimiter: str) -> str:
    return f"FORMAT csv, DELIMITER {literal(delimiter)}"


def crlf(lines: list[memoryview]) -> bytes:
    """Python's csv module ends lines with \\r\\n, COPY with \\n. A block whose only
    newlines end its lines is fixed with one replace() in C; one with a quoted newline inside
    a field is fixed line by line."""
    block = b"".join(lines)
    if block.count(b"\n") == len(lines):
        return block.replace(b"\n", b"\r\n")
    return b"\r\n".join([line[:-1] for line in lines]) + b"\r\n"


def header(source: TableSource, delimiter: str) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerow(neutralise(c.heading) for c in source.columns)
    return text.getvalue().encode()


def _csv_column(column: Column, field: Field, ref: str, zone: str) -> str | None:
    return csv_sql(field, ref, zone)


def _json_object(source: TableSource, values: list[str]) -> list[str]:
    """One column per row: the object text JsonWriter writes, `{"name": value, ...}`, and the
    comma that separates it from the next, so COPY's lines join as they come. One concat()
    call, not a chain of ||, so PostgreSQL builds the text once."""
    parts = []
    for n, (column, value) in enumerate(zip(source.columns, values, strict=True)):
        key = ("{" if n == 0 else ", ") + json_string(column.name) + ": "
        parts += [literal(key), value]
    return [f"concat({', '.join(parts)}, '}},')"]


def write_csv(out, sources: Sequence[TableSource], options: Options, progress: Progress) -> bool:
    """CsvWriter's output: the byte order mark if asked for, then each table's heading line
    and its rows (a big table read as two halves at once, engine.halves)."""
    delimiter = delimiter_of(options.delimiter)
    line, zone = csv_line(delimiter), options.time_zone
    copies = [copy_statement(s, _csv_column, line, zone=zone) for s in sources]
    if None in copies:
        return False
    if options.bom:
        out.write(BOM)
    for copy in copies:
        out.write(header(copy.source, delimiter))
        for block in copy_blocks(copy, progress, crlf, options.scratch_dir):
            out.write(block)
    return True


def write_tsv_zip(
    out, sources: Sequence[TableSource], options: Options, progress: Progress
) -> bool:
    """TsvZipWriter's members, byte for byte (compressed faster, so the zip itself differs).
    One connection per table: the compressing thread already keeps a second core busy, and
    read as two halves (engine.halves) TSV measured slower (0.64x COPY against 0.74x)."""
    from exports.formats.tsv_zip import file_stem

    copies = [copy_statement(s, _csv_column, TSV_LINE, zone=options.time_zone) for s in sources]
    if None in copies:
        return False
    names: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for copy in copies:
            name = unique_name(file_stem(copy.source.name), names) + ".tsv"
            with archive.open(name, "w", force_zip64=True) as member, compressing(member) as write:
                write(header(copy.source, "\t"))
                for block in map(crlf, copy_lines(copy, progress)):
                    write(block)
    return True


@contextmanager
def compressing(member: Any, depth: int = 4) -> Iterator[Callable[[bytes], Any]]:
    """member.write from a second thread: zlib lets go of the GIL while it compresses, so one
    block is compressed while the next is read from PostgreSQL. At most `depth` blocks wait."""
    blocks: queue.Queue[bytes | None] = queue.Queue(depth)
    failed: list[BaseException] = []

    def drain() -> None:
        while (block := blocks.get()) is not None:
            if not failed:
                try:
                    member.write(block)
                except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                    failed.append(exc)

    def write(block: bytes) -> None:
        if failed:
            raise failed[0]
        blocks.put(block)

    thread = threading.Thread(target=drain, name="exportdesk-compress", daemon=True)
    thread.start()
    try:
        yield write
    finally:
        blocks.put(None)
        thread.join()
    if failed:
        raise failed[0]


def _json_bare(source: TableSource) -> Callable[[Column, Field, str, str], str | None]:
    model = source.dataset.model

    def expression(column: Column, field: Field, ref: str, zone: str) -> str | None:
        nullable = may_be_null(model, column.source)
        return json_bare_sql(column, field, ref, zone, nullable=nullable)

    return expression


def json_copy(source: TableSource, zone: str) -> tuple[Copy, list[bool] | None] | None:
    """The table's COPY and which of its values are strings the client quotes (engine.
    jsonblocks); a table with JSON columns has PostgreSQL build each object (None)."""
    copy = copy_statement(source, _json_bare(source), TEXT, zone=zone)
    if copy is not None:
        return copy, [c.kind not in JSON_UNQUOTED for c in source.columns]
    copy = copy_statement(source, json_sql, JSON_LINE, _json_object, zone)
    return None if copy is None else (copy, None)


def write_json(out, sources: Sequence[TableSource], options: Options, progress: Progress) -> bool:
    """JsonWriter's output: an array of objects, or an object of arrays for several tables."""
    plans = [json_copy(s, options.time_zone) for s in sources]
    if None in plans:
        return False
    multi = len(plans) > 1 or options.data_dictionary or options.extra.get("multi_table")
    names: set[str] = set()
    for n, (copy, quoted) in enumerate(plans):
        if multi:
            name = unique_name(copy.source.name, names)
            out.write((("{\n" if not n else ",\n") + json_string(name) + ": [").encode())
        else:
            out.write(b"[")
        if quoted is None:
            write_json_lines(out, copy, progress)
            continue
        empty = True
        for block in json_rows(copy, progress, [c.name for c in copy.source.columns], quoted):
            out.write(block)
            empty = False
        out.write(b"]" if empty else b"\n]")
    out.write(b"\n}\n" if multi else b"\n")
    return True


def write_json_lines(out, copy: Copy, progress: Progress) -> None:
    """Each line is `{...},\n` (JSON text holds no raw newline): all but the last line go
    out as they are; the last loses its comma."""
    last = None
    for chunk in copy_lines(copy, progress):
        out.write((b"\n" if last is None else last) + b"".join(chunk[:-1]))
        last = bytes(chunk[-1])
    out.write(b"]" if last is None else last[:-2] + b"\n]")


def write_sqlite(out, sources: Sequence[TableSource], options: Options, progress: Progress) -> bool:
    """SqliteWriter's database, value for value: PostgreSQL gives each value as the writer's
    binders would make it (times as text in the export's zone), so rows go straight into
    SQLite without a conversion in Python. Values come as text, split a block at a time
    (engine.copytext), and take their types from the columns' affinity; a table with floats
    comes from a binary COPY, parsed row by row."""
    from exports.formats.sqlite import SqliteWriter

    zone = options.time_zone
    plans = []
    for source in sources:
        text = copy_statement(source, sqlite_text_sql, TEXT, zone=zone)
        plans.append(text or copy_statement(source, sqlite_sql, BINARY, zone=zone))
    if None in plans:
        return False
    writer = SqliteWriter(out, options)
    for copy in plans:
        if copy.options == TEXT:
            writer.write_flat(copy.source.table, text_values(copy, progress))
        else:
            writer.write_bound(copy.source.table, copy_tuples(copy, progress))
    writer.close()
    return True


def text_values(copy: Copy, progress: Progress) -> Iterator[list[str | None]]:
    """Each block's values, row after row, escapes and NULLs undone."""
    width = len(copy.source.columns)
    for chunk in copy_lines(copy, progress):
        block = b"".join(chunk).decode()
        values: list[str | None] = split_values(block)
        for i in value_indices(block, backslashes(block), width):
            values[i] = unescape(values[i])
        yield values


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
    "sqlite": ("exports.formats.sqlite.SqliteWriter", write_sqlite),
}


def fast_path(fmt: str, options: Options) -> FastPath | None:
    """The data dictionary is the writer's business, so it takes the writer's path."""
    entry = FAST_PATHS.get(fmt)
    if entry is None or options.data_dictionary or WRITERS.get(fmt, ("", ""))[1] != entry[0]:
        return None
    return entry[1]
