"""An R script that rebuilds one data.frame per table with base R only.

Each table is CSV text inside R string literals (a new literal every CHUNK_CHARS, so R never
parses one huge string), read with scan() and converted to its column classes. The script is
plain ASCII and spells every other character as the \\x escapes of its UTF-8 bytes, which
the script then marks as UTF-8: it reads the same in any locale. (R refuses a literal with
\\u escapes that is longer than 10,000 characters; \\x escapes have no such limit.)
Non-null text carries a leading "." so that an empty string stays distinct from NA, and
backslashes and carriage returns in it are escaped, since scan() turns a bare CR into LF.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from exports.formats.base import Table, Writer, naive_utc, text_of

BATCH = 1000
CHUNK_CHARS = 1_000_000
R_KINDS = ("integer", "float", "decimal", "boolean", "date", "datetime")
R_RESERVED = frozenset(
    {"if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE", "FALSE"}
    | {"NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "NA_complex_"}
)
SYNTACTIC = re.compile(r"([A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*")
# Control characters other than \n, \r and \t, which get their own escapes; NUL cannot be in
# an R string at all.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


PRELUDE = r"""# Exportdesk export: rebuilds one data.frame per table with base R only.
# Use: source("this file"). Times are POSIXct, shown in the export's time zone.
.exportdesk_convert <- function(v, kind, tz) {
  missing <- v == ""
  switch(kind,
    integer = {
      x <- suppressWarnings(as.numeric(v))
      if (all(is.na(x) | abs(x) <= .Machine$integer.max)) as.integer(x) else x
    },
    float = , decimal = suppressWarnings(as.numeric(v)),
    boolean = ifelse(missing, NA, v == "true"),
    date = as.Date(ifelse(missing, NA_character_, v)),
    datetime = {
      # Written as UTC wall-clock times: the instant is exact, the zone only shows it.
      x <- as.POSIXct(ifelse(missing, NA_character_, v),
                      tz = "UTC", format = "%Y-%m-%dT%H:%M:%OS")
      attr(x, "tzone") <- tz
      x
    },
    { v[missing] <- NA_character_; substring(v, 2L) }
  )
}
.exportdesk_table <- function(names, kinds, chunks, tz = "UTC") {
  # The literals hold UTF-8 bytes; saying so makes them read the same in every locale.
  Encoding(names) <- "UTF-8"
  chunks <- as.character(chunks)  # c() of no literals is NULL
  Encoding(chunks) <- "UTF-8"
  what <- rep(list(""), length(names))
  parts <- lapply(chunks, function(text) scan(
    text = text, what = what, sep = ",", quote = "\"", na.strings = character(0),
    quiet = TRUE, allowEscapes = TRUE, comment.char = "", strip.white = FALSE,
    blank.lines.skip = FALSE, multi.line = FALSE, encoding = "UTF-8"))
  columns <- lapply(seq_along(names), function(j) {
    v <- unlist(lapply(parts, `[[`, j), use.names = FALSE)
    .exportdesk_convert(as.character(v), kinds[[j]], tz)
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
        if CONTROL.search(text):
            text = CONTROL.sub(self._code, text)
        if text.isascii():
            return text
        # Latin-1 maps each UTF-8 byte to one character, which backslashreplace spells \xHH.
        data = text.encode("utf-8", "replace").decode("latin-1")
        return data.encode("ascii", "backslashreplace").decode("ascii")

    def _code(self, match: re.Match[str]) -> str:
        code = ord(match.group())
        if not code:
            self.removed += 1
            return ""
        return f"\\x{code:02x}"


def r_name(name: str) -> str:
    if SYNTACTIC.fullmatch(name) and name not in R_RESERVED:
        return name
    return "`" + _Escaper()(name).replace("`", "\\`") + "`"


def _marked(value: Any) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else text_of(value)
    if "\\" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\r", "\\r")
    return "." + text


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if type(value) is int else text_of(value)


def _utc(value: Any) -> str:
    """A time as UTC, whatever zone it comes in, so that R's POSIXct holds the same instant."""
    if isinstance(value, datetime):
        return naive_utc(value).isoformat()
    return _plain(value)


def converter(kind: str) -> Callable[[Any], str]:
    if kind == "datetime":
        return _utc
    return _plain if kind in R_KINDS else _marked


class RWriter(Writer):
    extension = "R"
    content_type = "text/x-r"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.escape = _Escaper()
        self.out.write(PRELUDE.encode())

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        name = r_name(self.unique_name(table.name))
        names = ", ".join(f'"{self.escape(c.name)}"' for c in table.columns)
        kinds = ", ".join(f'"{c.kind if c.kind in R_KINDS else "text"}"' for c in table.columns)
        self._write(f"\n{name} <- .exportdesk_table(\n  names = c({names}),\n")
        zone = self.escape(self.options.time_zone)
        self._write(f'  kinds = c({kinds}),\n  tz = "{zone}",\n  chunks = c(\n')
        converters = [converter(c.kind) for c in table.columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        count = chunk = 0
        for row in rows:
            if not count:
                self._write('"')
            writer.writerow([f(v) for f, v in zip(converters, row, strict=True)])
            count += 1
            if not count % BATCH:
                chunk += self._flush(buffer, chunk)
                if chunk >= CHUNK_CHARS:
                    self._write('",\n"')
                    chunk = 0
        self._flush(buffer, chunk)
        self._write('"\n))\n' if count else "))\n")
        return count

    def close(self) -> None:
        self.note_removed(self.escape.removed, "an R string")

    def _flush(self, buffer: io.StringIO, chunk: int) -> int:
        """Rows are separated, not terminated, by newlines (scan() would read a trailing
        one as one more row); the count includes the newline owed to the next batch."""
        lines = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not lines:
            return 0
        text = ("\\n" if chunk else "") + self.escape(lines[:-1])
        self._write(text)
        return len(text) + 1

    def _write(self, text: str) -> None:
        self.out.write(text.encode("ascii"))
