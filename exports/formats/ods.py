"""OpenDocument spreadsheet written straight into a zip, row by row.

odfpy and tablib build the whole document in memory (2.5 GB for 100k rows), so this module
writes content.xml itself through ZipFile.open(..., "w").
"""

import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from operator import call
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from exports.formats.base import (
    EXACT_INTEGER,
    SHEET_ROWS,
    XML_ILLEGAL,
    Table,
    Writer,
    exact_number,
    rest,
    text_of,
    wall_clock,
)

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
# As for XLSX (see there), measured on 200,000 rows (198 MB of content.xml): level 1:
# 2.38-2.73 CPU s, 15.4 MB; level 3: 2.47-2.71 s, 12.8 MB; level 6: 3.19-3.24 s, 10.1 MB.
COMPRESSLEVEL = 3
BATCH = 1000
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# ODF collapses runs of white space; tabs, line breaks and extra spaces need elements.
NEEDS_MARKUP = re.compile(r"[\t\n\r]|  |^ | $")
# Text with none of these goes into a <text:p> as it is.
SPECIAL = re.compile("[&<>\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|  |^ | $")
SPACES = re.compile(r"^ +| +$| {2,}|\t")
LINES = re.compile(r"\r\n|\r|\n")

NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "number": "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0",
    "config": "urn:oasis:names:tc:opendocument:xmlns:config:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}


def _xmlns(*prefixes: str) -> str:
    return " ".join(f'xmlns:{p}="{NS[p]}"' for p in prefixes)


DATE_STYLES = """<number:date-style style:name="Ndate">
<number:year number:style="long"/><number:text>-</number:text>
<number:month number:style="long"/><number:text>-</number:text>
<number:day number:style="long"/></number:date-style>
<number:date-style style:name="Ndatetime">
<number:year number:style="long"/><number:text>-</number:text>
<number:month number:style="long"/><number:text>-</number:text>
<number:day number:style="long"/><number:text> </number:text>
<number:hours number:style="long"/><number:text>:</number:text>
<number:minutes number:style="long"/><number:text>:</number:text>
<number:seconds number:style="long"/></number:date-style>
<style:style style:name="date" style:family="table-cell" style:data-style-name="Ndate"/>
<style:style style:name="datetime" style:family="table-cell" style:data-style-name="Ndatetime"/>
"""
BOLD = """<style:style style:name="heading" style:family="table-cell">
<style:text-properties fo:font-weight="bold"/></style:style>
"""
CONTENT_START = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f"<office:document-content {_xmlns('office', 'style', 'text', 'table', 'fo', 'number')}"
    ' office:version="1.2">\n<office:automatic-styles>\n{styles}</office:automatic-styles>\n'
    "<office:body><office:spreadsheet>\n"
)
CONTENT_END = "</office:spreadsheet></office:body></office:document-content>\n"
MANIFEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest {_xmlns("manifest")} manifest:version="1.2">
<manifest:file-entry manifest:full-path="/" manifest:media-type="{MIMETYPE}"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
{{settings}}</manifest:manifest>
"""
SETTINGS_ENTRY = (
    '<manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>\n'
)
FROZEN_SHEET = """<config:config-item-map-entry config:name={name}>
<config:config-item config:name="VerticalSplitMode" config:type="short">2</config:config-item>
<config:config-item config:name="VerticalSplitPosition" config:type="int">1</config:config-item>
<config:config-item config:name="ActiveSplitRange" config:type="short">2</config:config-item>
<config:config-item config:name="PositionBottom" config:type="int">1</config:config-item>
</config:config-item-map-entry>
"""
SETTINGS = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-settings {_xmlns("office", "config")} office:version="1.2"><office:settings>
<config:config-item-set config:name="ooo:view-settings">
<config:config-item-map-indexed config:name="Views"><config:config-item-map-entry>
<config:config-item-map-named config:name="Tables">
{{sheets}}</config:config-item-map-named>
</config:config-item-map-entry></config:config-item-map-indexed>
</config:config-item-set></office:settings></office:document-settings>
"""


def sheet_name(name: str) -> str:
    return BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"


def _spaces(match: re.Match[str]) -> str:
    run = match.group()
    if run == "\t":
        return "<text:tab/>"
    if match.start() == 0 or match.end() == len(match.string):
        return f'<text:s text:c="{len(run)}"/>'
    return f' <text:s text:c="{len(run) - 1}"/>'


def paragraphs(text: str) -> str:
    """Escaped text as <text:p> elements that keep every space, tab and line break."""
    if not NEEDS_MARKUP.search(text):
        return "<text:p>" + escape(text) + "</text:p>"
    return "".join(
        "<text:p>" + SPACES.sub(_spaces, escape(line)) + "</text:p>" for line in LINES.split(text)
    )


STRING_START = '<table:table-cell office:value-type="string">'
STRING_END = "</table:table-cell>"
EMPTY = "<table:table-cell/>"
BOOLEANS = {
    word: f'<table:table-cell office:value-type="boolean" office:boolean-value="{word}">'
    f"<text:p>{word.upper()}</text:p></table:table-cell>"
    for word in ("true", "false")
}


def string_cell(text: str) -> str:
    return STRING_START + paragraphs(text) + STRING_END


class OdsWriter(Writer):
    extension = "ods"
    content_type = MIMETYPE
    sheet_rows = SHEET_ROWS  # rows per sheet, the header row included

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zip = zipfile.ZipFile(self.out, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSLEVEL)
        self.zip.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, zipfile.ZIP_STORED)
        # All sheets are one member, which may well pass 2 GiB; LibreOffice reads zip64.
        self.content: IO[bytes] = self.zip.open("content.xml", "w", force_zip64=True)
        styles = DATE_STYLES if self.options.simplified else DATE_STYLES + BOLD
        self.content.write(CONTENT_START.replace("{styles}", styles).encode())
        self.sheets: list[str] = []
        self.removed = 0

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        heading = "" if self.options.simplified else ' table:style-name="heading"'
        start = STRING_START.replace("<table:table-cell", "<table:table-cell" + heading, 1)
        header = "".join(start + self._paragraphs(c.heading) + STRING_END for c in table.columns)
        header_row = f"<table:table-row>{header or EMPTY}</table:table-row>\n"
        columns = max(len(table.columns), 1)
        cells = [self._converter(c.kind) for c in table.columns]

        def write_sheet(name: str, rows: Iterator[Sequence[Any]]) -> tuple[int, Any]:
            self.sheets.append(name)
            self.content.write(
                f"<table:table table:name={quoteattr(name)}><table:table-column"
                f' table:number-columns-repeated="{columns}"/>\n{header_row}'.encode()
            )
            return self._write_rows(cells, rows)

        first = self.unique_name(sheet_name(table.name))
        return self.write_sheets(table, first, rows, write_sheet)

    def _write_rows(
        self, cells: list[Callable[[Any], str]], rows: Iterator[Sequence[Any]]
    ) -> tuple[int, Sequence[Any] | None]:
        write, width, room = self.content.write, len(cells), self.sheet_rows - 1
        batch: list[str] = []
        count = 0
        for row in islice(rows, room):
            if len(row) != width:
                raise ValueError(f"Every row must have {width} values.")
            batch.append(f"<table:table-row>{''.join(map(call, cells, row))}</table:table-row>\n")
            count += 1
            if len(batch) >= BATCH:
                write("".join(batch).encode())
                batch.clear()
        batch.append("</table:table>\n")
        write("".join(batch).encode())
        return count, rest(rows, count, room)

    def close(self) -> None:
        if not self.sheets:
            self.write_table(Table("Sheet", ()), ())
        self.content.write(CONTENT_END.encode())
        self.content.close()
        frozen = not self.options.simplified
        if frozen:
            sheets = "".join(FROZEN_SHEET.format(name=quoteattr(s)) for s in self.sheets)
            self.zip.writestr("settings.xml", SETTINGS.replace("{sheets}", sheets))
        manifest = MANIFEST.replace("{settings}", SETTINGS_ENTRY if frozen else "")
        self.zip.writestr("META-INF/manifest.xml", manifest)
        self.zip.close()
        self.note_removed(self.removed, "ODS (XML)")

    def _paragraphs(self, text: str) -> str:
        """Text as <text:p> elements: legal XML, every space kept. The common case is one
        regex search. Text that reads like a formula is written as it is: a string cell
        (office:value-type="string") is never evaluated, and it is how LibreOffice itself
        saves a cell typed as '=1+1; editing one, its input line shows the ' again."""
        if SPECIAL.search(text) is None:
            return "<text:p>" + text + "</text:p>"
        if XML_ILLEGAL.search(text):
            text, n = XML_ILLEGAL.subn("", text)
            self.removed += n
        return paragraphs(text)

    def _converter(self, kind: str) -> Callable[[Any], str]:
        """One function per column, chosen once, so each cell costs a single call."""
        text_xml, zone = self._paragraphs, self.zone
        wall = wall_clock(zone)

        search = SPECIAL.search
        plain_start, plain_end = STRING_START + "<text:p>", "</text:p>" + STRING_END

        def text(value: Any) -> str:
            if value is None:
                return EMPTY
            if value.__class__ is not str:
                value = text_of(value, zone)
            if search(value) is None:  # _paragraphs()'s common case, in one concatenation
                return plain_start + value + plain_end
            return STRING_START + text_xml(value) + STRING_END

        def number(value: Any) -> str:
            if value is None:
                return EMPTY
            # Plain ints, nearly every number, skip the general check.
            if (
                -EXACT_INTEGER < value < EXACT_INTEGER
                if value.__class__ is int
                else exact_number(value)
            ):
                return (
                    f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>"
                )
            return string_cell(str(value))

        def boolean(value: Any) -> str:
            if value is None:
                return EMPTY
            return BOOLEANS["true" if value else "false"]

        def moment(value: Any) -> str:
            if value.__class__ is datetime:  # nearly every value: one template
                iso = wall(value).isoformat()
                return (
                    '<table:table-cell table:style-name="datetime" office:value-type="date"'
                    f' office:date-value="{iso}"><text:p>{iso[:10]} {iso[11:19]}</text:p>'
                    "</table:table-cell>"
                )
            if value is None:
                return EMPTY
            if isinstance(value, datetime):
                style, iso = "datetime", wall(value).isoformat()
                shown = iso[:19].replace("T", " ")
            else:
                style, iso = "date", value.isoformat()
                shown = iso
            return (
                f'<table:table-cell table:style-name="{style}" office:value-type="date"'
                f' office:date-value="{iso}"><text:p>{shown}</text:p></table:table-cell>'
            )

        chosen = {
            "integer": number,
            "float": number,
            "decimal": number,
            "boolean": boolean,
            "date": moment,
            "datetime": moment,
        }
        return chosen.get(kind, text)
