"""The one streaming interface every format implements: rows in, bytes to a file object."""

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain
from typing import Any, BinaryIO, ClassVar

from exports.datasets.base import Column

# A cell starting with one of these is a formula to some spreadsheet program.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Rows per sheet in Excel and LibreOffice, the header row included.
SHEET_ROWS = 1_048_576
# XML 1.0 cannot carry these at all, not even escaped (nor can UTF-8 carry lone surrogates).
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Spreadsheets hold numbers as doubles: an integer past 15 digits is written as text instead.
EXACT_INTEGER = 10**15
KINDS = ("text", "integer", "float", "decimal", "boolean", "date", "datetime", "json")


def neutralise(text: str) -> str:
    """Prefix a quote so no spreadsheet evaluates it; leave plain numbers like -5 alone."""
    if text.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def text_of(value: Any) -> str:
    """The canonical text of a value in every text format; the SQL fast paths produce the
    same bytes, so a file does not depend on which path wrote it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def text_cell(value: Any) -> str:
    """A value as spreadsheet-safe text: canonical, then formula-neutralised if it was text."""
    return neutralise(value) if isinstance(value, str) else text_of(value)


def exact_number(value: Any) -> bool:
    """Whether a spreadsheet can hold the value as a number without changing it."""
    if isinstance(value, int):
        return -EXACT_INTEGER < value < EXACT_INTEGER
    if isinstance(value, Decimal):
        return value.is_finite()
    return math.isfinite(value)


UNIX_EPOCH = datetime(1970, 1, 1)
UNIX_EPOCH_UTC = UNIX_EPOCH.replace(tzinfo=UTC)


def naive_utc(value: datetime) -> datetime:
    """Spreadsheets have no time zones: store the UTC wall-clock time.
    (Arithmetic, because astimezone().replace() costs microseconds a cell.)"""
    if value.tzinfo is None:
        return value
    return UNIX_EPOCH + (value - UNIX_EPOCH_UTC)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Options:
    data_dictionary: bool = False
    sort_columns: bool = False
    simplified: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # Where a writer keeps any file besides `out` (None: the system's temp dir). Set by the
    # code that runs the export, never from a request: those bytes count against the quota.
    scratch_dir: str | None = None


def _text_column(name: str, description: str) -> Column:
    return Column(name, name, name.capitalize(), description, "text")


DICTIONARY = Table(
    "data_dictionary",
    (
        _text_column("table", "The table (sheet, file) the column belongs to."),
        _text_column("column", "The column's name."),
        _text_column("heading", "The column's heading in spreadsheets and CSV."),
        _text_column("type", "text, integer, float, decimal, boolean, date, datetime or json."),
        _text_column("description", "What the column holds."),
    ),
)


class Writer:
    """Subclasses stream each table as it comes and never hold a whole table."""

    extension: ClassVar[str]
    content_type: ClassVar[str]

    def __init__(self, out: BinaryIO, options: Options | None = None) -> None:
        self.out = out
        self.options = options or Options()
        # Human-readable remarks for the caller (e.g. characters a format could not hold).
        self.notes: list[str] = []
        self._names: set[str] = set()

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        """Write one table (sheet, file, or SQL table); return the number of rows."""
        raise NotImplementedError

    def write_dictionary(self, tables: Sequence[Table]) -> int:
        """CamCOPS' information-schema option: one more table that describes every column."""
        return self.write_table(DICTIONARY, dictionary_rows(tables))

    def close(self) -> None:
        """Finish the file (zip directory, closing brackets...). Does not close `out`."""

    def unique_name(self, name: str, limit: int | None = None) -> str:
        """Tables in one file need distinct names; most formats compare them case-blind."""
        candidate, n = name[:limit], 1
        while candidate.casefold() in self._names:
            n += 1
            suffix = f"_{n}"
            candidate = name[: (limit - len(suffix)) if limit else None] + suffix
        self._names.add(candidate.casefold())
        return candidate

    def write_sheets(
        self,
        table: Table,
        first: str,
        rows: Iterable[Sequence[Any]],
        write_sheet: Callable[[str, Iterator[Sequence[Any]]], tuple[int, Sequence[Any] | None]],
        limit: int | None = None,
    ) -> int:
        """A table on as many sheets as it needs: `first`, then `first (2)`, `first (3)`...
        write_sheet(name, rows) returns the rows it wrote and the first row that did not fit
        (None when the rows ran out); the notes name the sheets a table continued on."""
        pending, count, names = iter(rows), 0, [first]
        while True:
            written, leftover = write_sheet(names[-1], pending)
            count += written
            if leftover is None:
                break
            names.append(self._continuation(first, len(names) + 1, limit))
            pending = chain([leftover], pending)
        if len(names) > 1:
            more = ", ".join(repr(n) for n in names[1:])
            self.notes.append(
                f"{table.name}: {count:,} rows do not fit on one sheet; continued on {more}."
            )
        return count

    def _continuation(self, first: str, part: int, limit: int | None) -> str:
        """`first (part)`, cut to the limit; on a clash `firs_2 (part)`, `firs_3 (part)`..."""
        suffix, n, base = f" ({part})", 1, first
        cut = limit - len(suffix) if limit else None
        while (candidate := base[:cut] + suffix).casefold() in self._names:
            n += 1
            base = first[: cut - len(f"_{n}") if cut else None] + f"_{n}"
        self._names.add(candidate.casefold())
        return candidate

    def note_removed(self, count: int, what: str) -> None:
        if count:
            plural = "" if count == 1 else "s"
            self.notes.append(f"Removed {count} control character{plural} that {what} cannot hold.")


def rest(rows: Iterator[Sequence[Any]], written: int, room: int) -> Sequence[Any] | None:
    """After a sheet took `written` of at most `room` rows: the next row, if there is one."""
    return None if written < room else next(rows, None)


def dictionary_rows(tables: Sequence[Table]) -> Iterator[tuple[str, str, str, str, str]]:
    for table in tables:
        for c in table.columns:
            yield (table.name, c.name, c.heading, c.kind or "text", c.description)
