"""JsonWriter's objects assembled on the client from COPY's text format, a block of rows at
a time. PostgreSQL only prints the values (building each object itself cost it twice the
bare COPY's time); the client adds keys and quotes with one %-format per block.

COPY's text escapes are JSON's own for a backslash, tab, newline, carriage return,
backspace and form feed, so a string needs only its double quotes escaped, done for the whole
block with one replace(). What differs is fixed value by value: NULL (\\N), the vertical tab
(\\v, JSON's \\u000b) and raw control characters (\\u00XX in JSON)."""

import json
import re
from collections.abc import Iterator, Sequence

from exports.engine.copystream import Copy, copy_lines
from exports.engine.copytext import NULL, split_values, unescape, value_indices
from exports.engine.progress import Progress

# Stands for a null string until the block is formatted: PostgreSQL text never holds NUL.
NULL_MARK = b"\x00null\x00"
_SPECIAL = re.compile(rb"\\[Nv]")
# Control characters COPY leaves raw (it escapes \b, \t, \n, \v, \f and \r).
_CONTROLS = bytes(range(0x09)) + bytes(range(0x0E, 0x20))
_CONTROL = re.compile(b"[" + re.escape(_CONTROLS) + b"]")
_NULL = NULL.encode()
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def row_format(names: Sequence[str], quoted: Sequence[bool]) -> bytes:
    """One object as JsonWriter writes it, `{"id": %b, "name": "%b"}`."""
    parts = []
    for n, (name, quote) in enumerate(zip(names, quoted, strict=True)):
        key = _dumps(name).encode().replace(b"%", b"%%")
        parts.append((b"{" if n == 0 else b", ") + key + b": " + (b'"%b"' if quote else b"%b"))
    return b"".join(parts) + b"}"


def json_rows(
    copy: Copy, progress: Progress, names: Sequence[str], quoted: Sequence[bool]
) -> Iterator[bytes]:
    """The table's objects, `\\n{...}` then `,\\n{...}` for each further row."""
    each = b",\n" + row_format(names, quoted)
    first = True
    for chunk in copy_lines(copy, progress):
        block = b"".join(chunk)
        if b'"' in block:
            block = block.replace(b'"', b'\\"')
        values = split_values(block)
        nulls = fix_values(block, values, quoted)
        text = (each * len(chunk)) % tuple(values)
        if nulls:
            text = text.replace(b'"' + NULL_MARK + b'"', b"null")
        yield text[1:] if first else text
        first = False


def fix_values(block: bytes, values: list[bytes], quoted: Sequence[bool]) -> bool:
    """Puts right the values the block-wide escaping did not; True if a string was NULL."""
    positions = [m.start() for m in _SPECIAL.finditer(block)]
    if len(block.translate(None, _CONTROLS)) != len(block):
        positions = sorted(positions + [m.start() for m in _CONTROL.finditer(block)])
    width, nulls = len(quoted), False
    for i in value_indices(block, positions, width):
        quote = quoted[i % width]
        if values[i] == _NULL:
            values[i] = NULL_MARK if quote else b"null"
            nulls = nulls or quote
        elif quote:
            text = unescape(values[i].replace(b'\\"', b'"').decode())
            values[i] = _dumps(text)[1:-1].encode()
    return nulls
