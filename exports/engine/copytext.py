"""COPY's text format, read a block of rows at a time: one split in C gives every value of
the block, and only the few values with a backslash escape (or NULL's \\N) are looked at in
Python. That keeps Python's per-row cost out of the JSON and SQLite fast paths.

In the text format a value never holds a raw tab or newline (COPY writes them as \\t and
\\n), so tabs and newlines split the block exactly."""

import re
from collections.abc import Iterable, Iterator
from typing import AnyStr

# What COPY ... TO (FORMAT text) writes for a backslash sequence; \N alone is NULL.
ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}
NULL = "\\N"
_PAIR = re.compile(r"\\(.)", re.DOTALL)


def unescape(value: str) -> str | None:
    """A value as COPY's text format wrote it, back to the text (None for NULL)."""
    if value == NULL:
        return None
    return _PAIR.sub(lambda m: ESCAPES.get(m[1], m[1]), value)


def split_values(block: AnyStr) -> list[AnyStr]:
    """Every value of the rows in `block` (each ending with a newline), row after row."""
    newline, tab = ("\n", "\t") if isinstance(block, str) else (b"\n", b"\t")
    values = block.replace(newline, tab).split(tab)
    values.pop()  # after the last newline
    return values


def value_indices(block: str | bytes, positions: Iterable[int], width: int) -> Iterator[int]:
    """The index in split_values(block) of the value holding each position (ascending),
    each index once: rows are counted by newlines, columns by tabs since the row began."""
    newline, tab = ("\n", "\t") if isinstance(block, str) else (b"\n", b"\t")
    row, row_start, last, previous = 0, 0, 0, -1
    for position in positions:
        rows = block.count(newline, last, position)
        if rows:
            row += rows
            row_start = block.rfind(newline, last, position) + 1
        index = row * width + block.count(tab, row_start, position)
        if index != previous:
            yield index
            previous = index
        last = position


def backslashes(block: str) -> Iterator[int]:
    """Where every backslash in `block` is, found by str.find in C."""
    position = block.find("\\")
    while position >= 0:
        yield position
        position = block.find("\\", position + 2)  # an escape is two characters long
