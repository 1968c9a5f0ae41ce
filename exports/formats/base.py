"""The one streaming interface every format implements: rows in, bytes to a file object."""

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from itertools import chain
from typing import Any, BinaryIO, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from exports.clock import aware
from exports.datasets.base import Column
from exports.i18n import later

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
    """Prefix a quote so no spreadsheet evaluates it; leave plain numbers like -5 alone.
    For CSV and TSV, which have no text type; XLSX and ODS keep the text as it is, in text
    cells (XLSX's with Excel's quotePrefix style)."""
    if text.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


@functools.cache
def zone_named(name: str) -> tzinfo:
    """The zone an export writes its times in, by IANA name ("UTC", "Europe/Paris")."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(later(_("Unknown time zone %(name)s."), name=repr(name))) from None


UTC_ZONE = zone_named("UTC")


def iso_text(value: datetime, zone: tzinfo = UTC_ZONE) -> str:
    """ISO 8601 in `zone` with its UTC offset, as PostgreSQL's to_json() prints a timestamptz
    (the fast paths use it): `2026-03-29T03:30:00+02:00`; a fraction of a second without
    its trailing zeros (`.5`); an offset with seconds (`+00:09:21`, Paris before 1911)."""
    if value.tzinfo is None:
        value = aware(value)  # the site's wall clock, not the process's zone astimezone() takes
    local = value.astimezone(zone)
    text = local.isoformat()
    if not local.microsecond:
        return text
    # YYYY-MM-DDTHH:MM:SS.ffffff is 26 characters; the offset follows.
    return text[:26].rstrip("0") + text[26:]


def text_of(value: Any, zone: tzinfo = UTC_ZONE) -> str:
    """The canonical text of a value in every text format; the SQL fast paths produce the
    same bytes, so a file does not depend on which path wrote it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_text(value, zone)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def text_cell(value: Any, zone: tzinfo = UTC_ZONE) -> str:
    """A value as CSV/TSV text: canonical, then formula-neutralised if it was text."""
    return neutralise(value) if isinstance(value, str) else text_of(value, zone)


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
    """The UTC wall-clock time, naive; a naive value is the site's wall clock, as Django
    reads it under USE_TZ = False. (Arithmetic, because astimezone().replace() costs
    microseconds a cell.)"""
    if value.tzinfo is None:
        value = aware(value)
    return UNIX_EPOCH + (value - UNIX_EPOCH_UTC)


def wall_clock(zone: tzinfo) -> Callable[[datetime], datetime]:
    """Spreadsheets have no time zones: a cell holds the wall-clock time in the export's zone,
    naive (a naive value being the site's). In the repeated hour of autumn two instants show
    the same time, as on a clock."""
    if zone is UTC_ZONE:
        return naive_utc

    def local(value: datetime) -> datetime:
        if value.tzinfo is None:
            value = aware(value)
        return value.astimezone(zone).replace(tzinfo=None)

    return local


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]


# CSV delimiters by the names options use for them.
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}


def delimiter_of(name: str) -> str:
    try:
        return DELIMITERS[name]
    except KeyError:
        known = ", ".join(DELIMITERS)
        text = _("Unknown CSV delimiter %(name)s; use one of %(known)s.")
        raise ValueError(later(text, name=repr(name), known=known)) from None


@dataclass(frozen=True)
class Options:
    data_dictionary: bool = False
    sort_columns: bool = False
    simplified: bool = False
    # IANA name of the zone times are written in (the engine fills in the site's or the
    # request's zone when the export's options name none).
    time_zone: str = "UTC"
    # CSV only: a UTF-8 byte order mark first (Excel then reads UTF-8), and the delimiter.
    bom: bool = False
    delimiter: str = "comma"
    extra: dict[str, Any] = field(default_factory=dict)
    # Where a writer keeps any file besides `out` (None: the system's temp dir). Set by the
    # code that runs the export, never from a request: those bytes count against the quota.
    scratch_dir: str | None = None


def _text_column(name: str, heading: str, description: str) -> Column:
    return Column(name, name, heading, description, "text")


# Headings and descriptions are lazy: each export renders them in its own language.
DICTIONARY = Table(
    "data_dictionary",
    (
        _text_column("table", _("Table"), _("The table (sheet, file) the column belongs to.")),
        _text_column("column", _("Column"), _("The column's name.")),
        _text_column("heading", _("Heading"), _("The column's heading in spreadsheets and CSV.")),
        _text_column(
            "type",
            _("Type"),
            _("text, integer, float, decimal, boolean, date, datetime or json."),
        ),
        _text_column("description", _("Description"), _("What the column holds.")),
    ),
)


def dictionary_table() -> Table:
    """DICTIONARY in the active language, as text (writers escape and measure str)."""
    columns = tuple(
        Column(c.name, c.source, str(c.heading), str(c.description), c.kind)
        for c in DICTIONARY.columns
    )
    return Table(DICTIONARY.name, columns)


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
        self.zone = zone_named(self.options.time_zone)

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        """Write one table (sheet, file, or SQL table); return the number of rows."""
        raise NotImplementedError

    def write_dictionary(self, tables: Sequence[Table]) -> int:
        """CamCOPS' information-schema option: one more table that describes every column."""
        rows = dictionary_rows(tables, self.options.time_zone)
        return self.write_table(dictionary_table(), rows)

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
            text = gettext(
                "%(table)s: %(count)s rows do not fit on one sheet; continued on %(more)s."
            )
            self.notes.append(text % {"table": table.name, "count": f"{count:,}", "more": more})
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
            text = ngettext(
                "Removed %(count)s control character that %(what)s cannot hold.",
                "Removed %(count)s control characters that %(what)s cannot hold.",
                count,
            )
            self.notes.append(text % {"count": count, "what": what})


def rest(rows: Iterator[Sequence[Any]], written: int, room: int) -> Sequence[Any] | None:
    """After a sheet took `written` of at most `room` rows: the next row, if there is one."""
    return None if written < room else next(rows, None)


def dictionary_rows(
    tables: Sequence[Table], zone: str = "UTC"
) -> Iterator[tuple[str, str, str, str, str]]:
    """A date-time column's description names the zone its times are written in."""
    for table in tables:
        for c in table.columns:
            description = c.description
            if c.kind == "datetime":
                times = gettext("Times in %(zone)s.") % {"zone": zone}
                description = " ".join(filter(None, [str(description), times]))
            yield (table.name, c.name, c.heading, c.kind or "text", description)
