"""XLSX written straight into a zip, row by row, from templates chosen once per column.

openpyxl builds an object per cell and ran at ~1x its own bare loop; here every cell is one
small function call that returns its XML, batches of rows go to the zip member as they come,
and nothing but the current batch is held. openpyxl remains the reference the tests read with.
"""

import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from itertools import islice
from operator import call
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from django.utils.translation import ngettext

from exports.formats.base import (
    EXACT_INTEGER,
    FORMULA_TRIGGERS,
    SHEET_ROWS,
    XML_ILLEGAL,
    Table,
    Writer,
    exact_number,
    naive_utc,
    rest,
    text_of,
    wall_clock,
)

# Chosen by measurement: 200,000 user_points rows (70 MB of sheet XML), CPU seconds of the
# whole export and file size, two runs each. Level 1: 1.78-1.86 s, 9.3 MB; level 3:
# 1.79-1.85 s, 7.4 MB; level 6: 2.19-2.22 s, 5.8 MB. Level 3 is as fast as 1 and a fifth
# smaller; 6 saves another fifth for ~20% more time.
COMPRESSLEVEL = 3
BATCH = 1000
MAX_CELL = 32767  # Excel's limit, in UTF-16 code units
# A sheet member stays below what a zip member holds without zip64 extensions: Excel rejects
# zip64 fields on small members and wants them just so on big ones, so a sheet whose XML
# would pass 2 GiB continues on the next sheet instead (4 bytes is UTF-8's longest character).
MEMBER_LIMIT = zipfile.ZIP64_LIMIT - 1024
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# One search finds everything that needs work: XML specials, CR (XML parsers turn it into LF),
# characters XML 1.0 cannot carry at all, lone surrogates, and Excel's own _xHHHH_ escapes.
SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
EXCEL_ESCAPE = re.compile(r"[&<>\r]|_(?=x[0-9A-Fa-f]{4}_)")
EPOCH = datetime(1899, 12, 30)
EPOCH_ORDINAL = EPOCH.toordinal()
# Excel counts a 29 February 1900 (Lotus's bug): days before 1 March 1900 are one less.
LEAP_DAY = 61
DAY = 86400.0

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
ROOT_RELS = (
    HEAD + f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" Type="{REL}/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    HEAD + f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><bookViews><workbookView/></bookViews>'
    "<sheets>{sheets}</sheets></workbook>"
)
WORKBOOK_RELS = HEAD + f'<Relationships xmlns="{PKG_REL}">{{rels}}</Relationships>'
# Styles (cellXfs by index): 0 plain, 1 bold heading, 2 date, 3 date and time, 4 time, and
# 5 plain and 6 bold heading with quotePrefix: text Excel keeps as text even when edited (what
# Excel itself stores when someone types '=1+1), so the cell holds the value exactly.
DATE, DATETIME, TIME, QUOTED, QUOTED_HEADING = 2, 3, 4, 5, 6
STYLES = (
    HEAD + f'<styleSheet xmlns="{MAIN}"><numFmts count="3">'
    '<numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="166" formatCode="hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" quotePrefix="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)
SHEET_START = HEAD + f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
FROZEN = (
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
    'sqref="A2"/></sheetView></sheetViews>'
)
SHEET_END = "</sheetData></worksheet>"
EMPTY = "<c/>"
TEXT_START = '<c t="inlineStr"><is><t xml:space="preserve">'
QUOTED_START = TEXT_START.replace("<c ", f'<c s="{QUOTED}" ', 1)
TEXT_END = "</t></is></c>"
TRUE, FALSE = '<c t="b"><v>1</v></c>', '<c t="b"><v>0</v></c>'


def sheet_title(name: str) -> str:
    title = XML_ILLEGAL.sub("", BAD_SHEET_CHARS.sub("_", name)).strip("'") or "Sheet"
    return title + "_" if title.casefold() == "history" else title


def _escape(match: re.Match[str]) -> str:
    found = match.group()
    # Excel reads "_x0041_" in a string as "A": the underscore itself is escaped.
    return ESCAPES.get(found, "_x005F_")


def serial(value: date | time, wall: Callable[[datetime], datetime] = naive_utc) -> float:
    """Excel's day number: days since 1899-12-30 (one less before 1 March 1900), the time of
    day as a fraction; aware times as the wall clock of the export's zone (`wall`)."""
    if isinstance(value, time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / DAY + (
            value.microsecond / DAY / 1e6
        )
    if isinstance(value, datetime):
        days = (wall(value) - EPOCH).total_seconds() / DAY
    else:
        days = value.toordinal() - EPOCH_ORDINAL
    return days - 1 if 1 <= days < LEAP_DAY else days


class XlsxWriter(Writer):
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet_rows = SHEET_ROWS  # rows per sheet, the header row included
    member_limit = MEMBER_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zip = zipfile.ZipFile(self.out, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSLEVEL)
        self.sheets: list[str] = []
        self.removed = 0
        self.truncated = 0

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        first = self.unique_name(sheet_title(table.name), 31)
        start = SHEET_START + self._layout(table) + self._header(table)
        cells = [self._converter(c.kind) for c in table.columns]

        def write_sheet(name: str, rows: Iterator[Sequence[Any]]) -> tuple[int, Any]:
            return self._write_sheet(name, start, cells, rows)

        return self.write_sheets(table, first, rows, write_sheet, 31)

    def close(self) -> None:
        if not self.sheets:
            self.write_table(Table("Sheet", ()), ())
        n = len(self.sheets)
        self.zip.writestr("xl/styles.xml", STYLES)
        self.zip.writestr(
            "xl/workbook.xml",
            WORKBOOK.format(
                sheets="".join(
                    f'<sheet name={quoteattr(s)} sheetId="{i}" r:id="rId{i}"/>'
                    for i, s in enumerate(self.sheets, 1)
                )
            ),
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        rels += f'<Relationship Id="rId{n + 1}" Type="{REL}/styles" Target="styles.xml"/>'
        self.zip.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(rels=rels))
        self.zip.writestr("_rels/.rels", ROOT_RELS)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SHEET_TYPE}"/>'
            for i in range(1, n + 1)
        )
        self.zip.writestr("[Content_Types].xml", CONTENT_TYPES.format(sheets=overrides))
        self.zip.close()
        self.note_removed(self.removed, "XLSX")
        if self.truncated:
            text = ngettext(
                "Cut %(count)s text value to XLSX's limit of %(limit)s characters.",
                "Cut %(count)s text values to XLSX's limit of %(limit)s characters.",
                self.truncated,
            )
            self.notes.append(text % {"count": self.truncated, "limit": MAX_CELL})

    def _write_sheet(
        self, name: str, start: str, cells: list[Callable[[Any], str]], rows: Iterator[Any]
    ) -> tuple[int, Sequence[Any] | None]:
        """One sheet: up to sheet_rows rows and member_limit bytes. Returns the rows written
        and the first row that did not fit (None when the rows ran out)."""
        self.sheets.append(name)
        member = self.zip.open(f"xl/worksheets/sheet{len(self.sheets)}.xml", "w")
        size = member.write(start.encode())
        width, limit = len(cells), self.member_limit - len(SHEET_END)
        batch: list[str] = []
        pending = 0  # characters in batch; UTF-8 needs at most 4 bytes for each
        n = 1
        for row in islice(rows, self.sheet_rows - 1):
            if len(row) != width:
                raise ValueError(f"Every row must have {width} values.")
            n += 1
            xml = f'<row r="{n}">{"".join(map(call, cells, row))}</row>'
            pending += len(xml)
            if size + 4 * pending > limit:
                size += self._flush(member, batch)
                if size + 4 * len(xml) > limit:
                    self._end(member)
                    return n - 2, row
                pending = len(xml)
            batch.append(xml)
            if len(batch) >= BATCH:
                size += self._flush(member, batch)
                pending = 0
        self._flush(member, batch)
        self._end(member)
        return n - 1, rest(rows, n - 1, self.sheet_rows - 1)

    @staticmethod
    def _flush(member: IO[bytes], batch: list[str]) -> int:
        written = member.write("".join(batch).encode())
        batch.clear()
        return written

    @staticmethod
    def _end(member: IO[bytes]) -> None:
        member.write(SHEET_END.encode())
        member.close()

    def _layout(self, table: Table) -> str:
        """Frozen header and column widths, unless a plain sheet was asked for."""
        if self.options.simplified:
            return "<sheetData>"
        widths = "".join(
            f'<col min="{i}" max="{i}" width="{min(max(len(c.heading), 8) + 2, 60)}"'
            ' customWidth="1"/>'
            for i, c in enumerate(table.columns, 1)
        )
        return FROZEN + (f"<cols>{widths}</cols>" if widths else "") + "<sheetData>"

    def _header(self, table: Table) -> str:
        if self.options.simplified:
            plain, quoted = TEXT_START, QUOTED_START
        else:
            plain = TEXT_START.replace("<c ", '<c s="1" ', 1)
            quoted = TEXT_START.replace("<c ", f'<c s="{QUOTED_HEADING}" ', 1)
        cells = "".join(self._text_cell(c.heading, plain, quoted) for c in table.columns)
        return f'<row r="1">{cells}</row>'

    def _text_cell(self, value: str, plain: str = TEXT_START, quoted: str = QUOTED_START) -> str:
        """An inline-string cell: legal XML, within the cell limit, escaped; started with
        `quoted` (a quotePrefix style) when it reads like a formula, else with `plain`. The
        text itself stays as it is. The common case is one regex search."""
        if SPECIAL.search(value) is None:
            if len(value) > MAX_CELL // 2:
                value = self._cut(value)
            return (quoted if value.startswith(FORMULA_TRIGGERS) else plain) + value + TEXT_END
        if XML_ILLEGAL.search(value):
            value, n = XML_ILLEGAL.subn("", value)
            self.removed += n
        if len(value) > MAX_CELL // 2:
            value = self._cut(value)
        # Checked after cleaning, so "\x01=1+1" is quoted as the "=1+1" it became.
        start = quoted if value.startswith(FORMULA_TRIGGERS) else plain
        return start + EXCEL_ESCAPE.sub(_escape, value) + TEXT_END

    def _cut(self, value: str) -> str:
        units = value.encode("utf-16-le")
        if len(units) <= 2 * MAX_CELL:
            return value
        self.truncated += 1
        # errors="ignore" drops a surrogate pair cut in half.
        return units[: 2 * MAX_CELL].decode("utf-16-le", errors="ignore")

    def _converter(self, kind: str) -> Callable[[Any], str]:
        """One function per column, chosen once, so each cell costs a single call."""
        text_cell, zone = self._text_cell, self.zone
        wall = wall_clock(zone)

        def text(value: Any) -> str:
            if value is None:
                return EMPTY
            if value.__class__ is not str:
                value = text_of(value, zone)
            return text_cell(value)

        def number(value: Any) -> str:
            if value is None:
                return EMPTY
            # Plain ints, nearly every number, skip the general check.
            if (
                -EXACT_INTEGER < value < EXACT_INTEGER
                if value.__class__ is int
                else exact_number(value)
            ):
                return f"<c><v>{value}</v></c>"
            # "-inf" or a long negative integer: text, and kept text when edited.
            return text_cell(str(value))

        def boolean(value: Any) -> str:
            if value is None:
                return EMPTY
            return TRUE if value else FALSE

        def moment(value: Any) -> str:
            if value.__class__ is datetime:
                days = (wall(value) - EPOCH).total_seconds() / DAY
                if days < LEAP_DAY:
                    days = serial(value, wall)
                return f'<c s="{DATETIME}"><v>{days!r}</v></c>'
            if value is None:
                return EMPTY
            style = DATETIME if isinstance(value, datetime) else DATE
            if isinstance(value, time):
                style = TIME
            return f'<c s="{style}"><v>{serial(value, wall)!r}</v></c>'

        def day(value: Any) -> str:
            if value.__class__ is not date:
                return moment(value)
            n = value.toordinal() - EPOCH_ORDINAL
            return f'<c s="{DATE}"><v>{n - 1 if 1 <= n < LEAP_DAY else n}</v></c>'

        chosen = {
            "integer": number,
            "float": number,
            "decimal": number,
            "boolean": boolean,
            "date": day,
            "datetime": moment,
            "time": moment,
        }
        return chosen.get(kind, text)
