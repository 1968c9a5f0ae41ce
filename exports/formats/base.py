"""The one streaming interface every format implements: rows in, bytes to a file object."""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, ClassVar

from exports.datasets import Column

# A cell starting with one of these is a formula to some spreadsheet program.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


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


class Writer:
    """Subclasses stream each table as it comes and never hold a whole table."""

    extension: ClassVar[str]
    content_type: ClassVar[str]

    def __init__(self, out: BinaryIO, options: Options | None = None) -> None:
        self.out = out
        self.options = options or Options()

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        """Write one table (sheet, file, or SQL table); return the number of rows."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file (zip directory, closing brackets...). Does not close `out`."""
