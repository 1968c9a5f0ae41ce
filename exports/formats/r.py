"""An R script that rebuilds one data.frame per table with base R only.

Each table is CSV text inside R string literals (a new literal every CHUNK_CHARS, so no
string nears R's limits), read with utils::read.csv and converted to its column classes.
Non-null text carries a leading "." so that an empty string stays distinct from NA, and
backslashes and carriage returns in it are escaped, since read.csv turns a bare CR into LF.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from exports.formats.base import Table, Writer, text_of

BATCH = 1000
CHUNK_CHARS = 1_000_000
R_KINDS = ("integer", "float", "decimal", "boolean", "date", "datetime")
R_RESERVED = frozenset(
    {"if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE", "FALSE"}
    | {"NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "NA_complex_"}
)
SYNTACTIC = re.compile(r"([A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*")
NEEDS_ESCAPE = re.compile(r"[^\x20-\x7e]")

PRELUDE = r"""# Exportdesk export: rebuilds one data.frame per table with base R only.
# Use: source("this file"). Times are POSIXct in UTC.
.exportdesk_convert <- function(v, kind) {
  missing <- v == ""
  switch(kind,
    integer = {
      x <- suppressWarnings(as.numeric(v))
      if (all(is.na(x) | abs(x) <= .Machine$integer.max)) as.integer(x) else x
    },
    float = , decimal = suppressWarnings(as.numeric(v)),
    boolean = ifelse(missing, NA, v == "true"),
    date = as.Date(ifelse(missing, NA_character_, v)),
    datetime = as.POSIXct(ifelse(missing, NA_character_, sub("Z$", "", v)),
                          tz = "UTC", format = "%Y-%m-%dT%H:%M:%OS"),
    { v[missing] <- NA_character_; substring(v, 2L) }
  )
}
.exportdesk_table <- function(names, kinds, chunks) {
  # Every line ends in \n; read.csv would read the last one as one more (blank) row.
  parts <- lapply(chunks, function(text) utils::read.csv(
    text = sub("\n$", "", text), header = FALSE, colClasses = "character",
    col.names = paste0("V", seq_along(names)), na.strings = character(0),
    quote = "\"", comment.char = "", strip.white = FALSE, allowEscapes = TRUE,
    blank.lines.skip = FALSE, encoding = "UTF-8"))
  columns <- lapply(seq_along(names), function(j) {
    v <- unlist(lapply(parts, `[[`, j), use.names = FALSE)
    .exportdesk_convert(if (is.null(v)) character(0) else v, kinds[[j]])
  })
  names(columns) <- names
  data.frame(columns, check.names = FALSE, stringsAsFactors = FALSE)
}
"""


class _Escaper:
    """R string-literal bodies in plain ASCII, so the script reads the same in any locale."""

    def __init__(self) -> None:
        self.removed = 0

    def __call__(self, text: str) -> str:
        text = (
            text.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\t", "\\t")
        )
        if text.isascii() and text.isprintable():
            return text
        return NEEDS_ESCAPE.sub(self._code, text)

    def _code(self, match: re.Match[str]) -> str:
        char = match.group()
        if char == "\x00":  # R strings cannot hold NUL
            self.removed += 1
            return ""
        return f"\\U{{{ord(char):x}}}"


def r_name(name: str) -> str:
    if SYNTACTIC.fullmatch(name) and name not in R_RESERVED:
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _marked(value: Any) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else text_of(value)
    if "\\" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\r", "\\r")
    return "." + text


def _plain(value: Any) -> str:
    return "" if value is None else text_of(value)


class RWriter(Writer):
    extension = "R"
    content_type = "text/x-r"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.escape = _Escaper()
        self.out.write(PRELUDE.encode())

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        name = r_name(self.escape(self.unique_name(table.name)))
        names = ", ".join(f'"{self.escape(c.name)}"' for c in table.columns)
        kinds = ", ".join(f'"{c.kind if c.kind in R_KINDS else "text"}"' for c in table.columns)
        self._write(f"\n{name} <- .exportdesk_table(\n  names = c({names}),\n")
        self._write(f"  kinds = c({kinds}),\n  chunks = c(\n")
        converters: list[Callable[[Any], str]] = [
            _plain if c.kind in R_KINDS else _marked for c in table.columns
        ]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        count = chunk = 0
        for row in rows:
            if not count:
                self._write('"')
            writer.writerow([f(v) for f, v in zip(converters, row, strict=True)])
            count += 1
            if not count % BATCH:
                chunk += self._flush(buffer)
                if chunk >= CHUNK_CHARS:
                    self._write('",\n"')
                    chunk = 0
        self._flush(buffer)
        self._write('"\n))\n' if count else "))\n")
        return count

    def close(self) -> None:
        self.note_removed(self.escape.removed, "an R string")

    def _flush(self, buffer: io.StringIO) -> int:
        text = self.escape(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        self._write(text)
        return len(text)

    def _write(self, text: str) -> None:
        self.out.write(text.encode("ascii"))
