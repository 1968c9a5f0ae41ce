"""A streamed JSON array of objects, one per row; several tables make an object of arrays."""

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from decimal import Decimal
from functools import partial
from typing import Any

from exports.formats.base import Options, Table, Writer, text_of

BATCH = 1000

_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _number(value: Any) -> str:
    if value is None or not math.isfinite(value):
        return "null"
    return str(value) if isinstance(value, Decimal) else json.dumps(value)


def _integer(value: Any) -> str:
    return "null" if value is None else str(int(value))


def _boolean(value: Any) -> str:
    return "null" if value is None else ("true" if value else "false")


def _text(value: Any, zone: tzinfo) -> str:
    if value is None:
        return "null"
    return _dumps(value if type(value) is str else text_of(value, zone))


def _json(value: Any) -> str:
    return _dumps(value)


CONVERTERS: dict[str, Callable[[Any], str]] = {
    "integer": _integer,
    "float": _number,
    "decimal": _number,
    "boolean": _boolean,
    "json": _json,
}


def is_multi_table(options: Options) -> bool:
    """A stream cannot take back its first byte, so it must know up front whether more than
    one table is coming: the data dictionary or the caller's `extra["multi_table"]` say so."""
    return options.data_dictionary or bool(options.extra.get("multi_table"))


class JsonWriter(Writer):
    extension = "json"
    content_type = "application/json"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multi = is_multi_table(self.options)
        self.tables = 0

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        if self.tables and not self.multi:
            raise RuntimeError(
                "A single-table JSON export got a second table; pass "
                "Options(extra={'multi_table': True}) to get an object of arrays."
            )
        if self.multi:
            name = self.unique_name(table.name)
            opening = ("{\n" if not self.tables else ",\n") + _dumps(name) + ": ["
        else:
            opening = "["
        self.tables += 1
        keys = [_dumps(c.name) + ": " for c in table.columns]
        text = partial(_text, zone=self.zone)
        converters = [CONVERTERS.get(c.kind, text) for c in table.columns]
        pairs = list(zip(keys, converters, strict=True))
        batch: list[str] = [opening]
        count = 0
        for row in rows:
            fields = [k + f(v) for (k, f), v in zip(pairs, row, strict=True)]
            batch.append(("\n{" if not count else ",\n{") + ", ".join(fields) + "}")
            count += 1
            if len(batch) >= BATCH:
                self.out.write("".join(batch).encode())
                batch = []
        batch.append("\n]" if count else "]")
        self.out.write("".join(batch).encode())
        return count

    def close(self) -> None:
        if not self.tables:
            self.out.write(b"{}" if self.multi else b"[]")
        elif self.multi:
            self.out.write(b"\n}")
        self.out.write(b"\n")
