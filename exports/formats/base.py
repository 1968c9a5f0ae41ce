"""The one streaming interface every format implements: rows in, bytes to a file object."""

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, ClassVar

from exports.datasets.base import Column

# A cell starting with one of these is a formula to some spreadsheet program.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
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


def naive_utc(value: datetime) -> datetime:
    """Spreadsheets have no time zones: store the UTC wall-clock time."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


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

    def note_removed(self, count: int, what: str) -> None:
        if count:
            plural = "" if count == 1 else "s"
            self.notes.append(f"Removed {count} control character{plural} that {what} cannot hold.")


def dictionary_rows(tables: Sequence[Table]) -> Iterator[tuple[str, str, str, str, str]]:
    for table in tables:
        for c in table.columns:
            yield (table.name, c.name, c.heading, c.kind or "text", c.description)
