"""XLSX through openpyxl's write-only mode: each sheet streams to a temporary file."""

import math
import re
from collections.abc import Callable, Iterable, Sequence
from operator import call
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from exports.formats.base import Table, Writer, naive_utc, neutralise, text_cell

# Excel keeps 15 significant digits; a longer integer is written as text to stay exact.
EXACT_INTEGER = 10**15
MAX_CELL = 32767
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_title(name: str) -> str:
    title = BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
    return title + "_" if title.casefold() == "history" else title


class XlsxWriter(Writer):
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workbook = Workbook(write_only=True)
        self.removed = 0
        self.truncated = 0

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        sheet = self.workbook.create_sheet(self.unique_name(sheet_title(table.name), 31))
        if not self.options.simplified:
            sheet.freeze_panes = "A2"
            for i, c in enumerate(table.columns, 1):
                width = min(max(len(c.heading), 8) + 2, 60)
                sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.append(self._header(sheet, table))
        converters = [self._converter(sheet, c.kind) for c in table.columns]
        append = sheet.append
        width = len(converters)
        count = 0
        for row in rows:
            if len(row) != width:
                raise ValueError(f"Every row must have {width} values.")
            # openpyxl's write-only append reuses one cell for plain values; only text that
            # it would misread (formulas, error codes) goes in as an explicit string cell.
            append(list(map(call, converters, row)))
            count += 1
        return count

    def close(self) -> None:
        if not self.workbook.worksheets:
            self.workbook.create_sheet("Sheet")
        self.workbook.save(self.out)
        self.note_removed(self.removed, "XLSX")
        if self.truncated:
            self.notes.append(
                f"Cut {self.truncated} text values to XLSX's limit of {MAX_CELL} characters."
            )

    def _header(self, sheet: Any, table: Table) -> list[Any]:
        font = None if self.options.simplified else Font(bold=True)
        cells = []
        for c in table.columns:
            cell = self._string_cell(sheet, self._clean(neutralise(c.heading)))
            if font:
                cell.font = font
            cells.append(cell)
        return cells

    def _converter(self, sheet: Any, kind: str) -> Callable[[Any], Any]:
        """One function per column, chosen once, so each cell costs a single call."""

        def text(value: Any) -> Any:
            if value is None:
                return None
            value = self._clean(text_cell(value))
            # Cleaning can bring an "=" to the front ("\x01=1+1"): openpyxl would make it a
            # formula, so it is typed as text like the error codes.
            if value in ERROR_CODES or value.startswith("="):
                return self._string_cell(sheet, value)
            return value

        def number(value: Any) -> Any:
            if value is None or math.isfinite(value):
                return value
            return str(value)

        def integer(value: Any) -> Any:
            if value is None or -EXACT_INTEGER < value < EXACT_INTEGER:
                return value
            return str(value)

        def moment(value: Any) -> Any:
            return None if value is None else naive_utc(value)

        def same(value: Any) -> Any:
            return value

        chosen = {"integer": integer, "float": number, "decimal": number, "datetime": moment}
        return chosen.get(kind, same if kind in ("boolean", "date") else text)

    def _clean(self, value: str) -> str:
        """openpyxl refuses XML-illegal control characters and cuts long text silently."""
        if ILLEGAL_CHARACTERS_RE.search(value):
            value, n = ILLEGAL_CHARACTERS_RE.subn("", value)
            self.removed += n
        if len(value) > MAX_CELL:
            self.truncated += 1
            value = value[:MAX_CELL]
        return value

    @staticmethod
    def _string_cell(sheet: Any, value: str) -> WriteOnlyCell:
        """A cell typed as text whatever it looks like (openpyxl guesses formulas, errors)."""
        cell = WriteOnlyCell(sheet)
        cell._value = value
        cell.data_type = "s"
        return cell
