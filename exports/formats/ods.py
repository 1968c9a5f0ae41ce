"""OpenDocument spreadsheet written straight into a zip, row by row.

odfpy and tablib build the whole document in memory (2.5 GB for 100k rows), so this module
writes content.xml itself through ZipFile.open(..., "w").
"""

import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from exports.formats.base import Table, Writer, naive_utc, neutralise, text_cell

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
# LibreOffice holds numbers as doubles; a longer integer is written as text to stay exact.
EXACT_INTEGER = 10**15
BATCH = 500
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# XML 1.0 cannot carry these at all, not even escaped.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# ODF collapses runs of white space; tabs, line breaks and extra spaces need elements.
NEEDS_MARKUP = re.compile(r"[\t\n\r]|  |^ | $")
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


def string_cell(text: str) -> str:
    return (
        '<table:table-cell office:value-type="string">' + paragraphs(text) + "</table:table-cell>"
    )


class OdsWriter(Writer):
    extension = "ods"
    content_type = MIMETYPE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zip = zipfile.ZipFile(self.out, "w", zipfile.ZIP_DEFLATED)
        self.zip.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, zipfile.ZIP_STORED)
        self.content: IO[bytes] = self.zip.open("content.xml", "w", force_zip64=True)
        styles = DATE_STYLES if self.options.simplified else DATE_STYLES + BOLD
        self.content.write(CONTENT_START.replace("{styles}", styles).encode())
        self.sheets: list[str] = []
        self.removed = 0

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        name = self.unique_name(sheet_name(table.name))
        self.sheets.append(name)
        heading = "" if self.options.simplified else ' table:style-name="heading"'
        header = "".join(
            string_cell(self._clean(neutralise(c.heading))).replace(
                "<table:table-cell", "<table:table-cell" + heading, 1
            )
            for c in table.columns
        )
        write = self.content.write
        write(
            f"<table:table table:name={quoteattr(name)}>"
            f'<table:table-column table:number-columns-repeated="{max(len(table.columns), 1)}"/>'
            f"\n<table:table-row>{header or '<table:table-cell/>'}</table:table-row>\n".encode()
        )
        converters = [self._converter(c.kind) for c in table.columns]
        batch: list[str] = []
        count = 0
        for row in rows:
            cells = [f(v) for f, v in zip(converters, row, strict=True)]
            batch.append("<table:table-row>" + "".join(cells) + "</table:table-row>\n")
            count += 1
            if len(batch) >= BATCH:
                write("".join(batch).encode())
                batch = []
        batch.append("</table:table>\n")
        write("".join(batch).encode())
        return count

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

    def _clean(self, text: str) -> str:
        if XML_ILLEGAL.search(text):
            text, n = XML_ILLEGAL.subn("", text)
            self.removed += n
        return text

    def _converter(self, kind: str) -> Callable[[Any], str]:
        """One function per column, chosen once, so each cell costs a single call."""
        empty = "<table:table-cell/>"

        def text(value: Any) -> str:
            if value is None:
                return empty
            return string_cell(self._clean(text_cell(value)))

        def number(value: Any) -> str:
            if value is None:
                return empty
            if not math.isfinite(value):
                return string_cell(str(value))
            shown = str(value)
            return (
                f'<table:table-cell office:value-type="float" office:value="{shown}">'
                f"<text:p>{shown}</text:p></table:table-cell>"
            )

        def integer(value: Any) -> str:
            if value is None:
                return empty
            if -EXACT_INTEGER < value < EXACT_INTEGER:
                return number(value)
            return string_cell(str(value))

        def boolean(value: Any) -> str:
            if value is None:
                return empty
            word = "true" if value else "false"
            return (
                f'<table:table-cell office:value-type="boolean" office:boolean-value="{word}">'
                f"<text:p>{word.upper()}</text:p></table:table-cell>"
            )

        def moment(value: Any) -> str:
            if value is None:
                return empty
            if isinstance(value, datetime):
                style, iso = "datetime", naive_utc(value).isoformat()
                shown = iso[:19].replace("T", " ")
            else:
                style, iso = "date", value.isoformat()
                shown = iso
            return (
                f'<table:table-cell table:style-name="{style}" office:value-type="date"'
                f' office:date-value="{iso}"><text:p>{shown}</text:p></table:table-cell>'
            )

        chosen = {
            "integer": integer,
            "float": number,
            "decimal": number,
            "boolean": boolean,
            "date": moment,
            "datetime": moment,
        }
        return chosen.get(kind, text)
