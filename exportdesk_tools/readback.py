"""Count the data rows in a finished export file, without our own writers' code.

A chaos run reads back every stored file and compares the count with the audit row: a file
cut short, written twice or swapped for another export's shows up as a different number.
Only formats that can be read quickly are here (`READERS`); the rest are skipped.
"""

import csv
import io
import json
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1 << 16


class Unreadable(Exception):
    """The file does not parse as its format."""


def records(handle: IO[str], delimiter: str) -> int:
    """CSV records, not lines: a quoted value may hold newlines."""
    return sum(1 for _ in csv.reader(handle, delimiter=delimiter))


def csv_rows(path: Path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return max(records(handle, ",") - 1, 0)  # the header row


def tsvzip_rows(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        total = 0
        for name in archive.namelist():
            if name.endswith(".tsv"):
                with archive.open(name) as member:
                    text = io.TextIOWrapper(member, encoding="utf-8", newline="")
                    total += max(records(text, "\t") - 1, 0)
        return total


def json_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        data = json.load(handle)
    if isinstance(data, dict):  # several tables: {"name": [rows...]}
        return sum(len(rows) for rows in data.values())
    if not isinstance(data, list):
        raise Unreadable("the JSON is neither an array nor an object of arrays")
    return len(data)


def occurrences(chunks: Iterator[bytes], needles: tuple[bytes, ...]) -> int:
    """Count `needles` in a stream, including those split across two chunks."""
    keep = max(map(len, needles)) - 1
    count, tail = 0, b""
    for chunk in chunks:
        window = tail + chunk
        count += sum(window.count(n) for n in needles)
        tail = window[-keep:]
        count -= sum(tail.count(n) for n in needles)  # counted again with the next chunk
    return count + sum(tail.count(n) for n in needles)


def member_chunks(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with archive.open(name) as member:
        while chunk := member.read(CHUNK):
            yield chunk


def xlsx_rows(path: Path) -> int:
    """`<row` elements in every sheet, less one header row per sheet."""
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        if not sheets:
            raise Unreadable("no worksheet in the workbook")
        rows = sum(occurrences(member_chunks(archive, n), (b"<row ", b"<row>")) for n in sheets)
        return rows - len(sheets)


def ods_rows(path: Path) -> int:
    """`<table:table-row` elements in content.xml, less one header row per table."""
    with zipfile.ZipFile(path) as archive:
        rows = occurrences(
            member_chunks(archive, "content.xml"), (b"<table:table-row>", b"<table:table-row ")
        )
        tables = occurrences(member_chunks(archive, "content.xml"), (b"<table:table ",))
        if not tables:
            raise Unreadable("no table in content.xml")
        return rows - tables


def sqlite_rows(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # Names come from the file's own catalogue, quoted as identifiers.
        return sum(
            db.execute(f'SELECT count(*) FROM "{t.replace(chr(34), chr(34) * 2)}"').fetchone()[0]  # noqa: S608
            for t in tables
        )
    finally:
        db.close()


READERS: dict[str, Callable[[Path], int]] = {
    "csv": csv_rows,
    "tsvzip": tsvzip_rows,
    "json": json_rows,
    "xlsx": xlsx_rows,
    "ods": ods_rows,
    "sqlite": sqlite_rows,
}


def count_rows(fmt: str, path: Path) -> int:
    """Data rows in the file; Unreadable (or KeyError for a format not here) otherwise."""
    try:
        return READERS[fmt](path)
    except (zipfile.BadZipFile, json.JSONDecodeError, sqlite3.DatabaseError, UnicodeError) as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc}") from exc
    except csv.Error as exc:
        raise Unreadable(f"CSV: {exc}") from exc
