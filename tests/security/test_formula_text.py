"""Text a spreadsheet would take for a formula (`=cmd|' /C calc'!A0`, `+1+1`, `@SUM(A1)`,
tab-, CR- or LF-led) is never evaluated, in any format a spreadsheet opens.

XLSX and ODS keep the value exactly, as a text cell; XLSX also gives it the quotePrefix
style Excel itself sets when someone types `'=…`, so it stays text when edited. CSV and TSV
have no types and keep a leading `'`. Read back with openpyxl and with LibreOffice.
"""

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from exports.datasets import Column
from exports.formats.base import (
    DICTIONARY,
    FORMULA_TRIGGERS,
    Options,
    Table,
    dictionary_rows,
    neutralise,
)
from tests.test_formats_support import render, save, soffice

ALL_SHEETS_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    '=HYPERLINK("http://example.com","x")',
]
PLAIN = ["plain", "-5", "a=1", "'=already quoted"]
TABLE = Table(
    "formulas",
    (
        Column("n", "n", "+N", "-1+1 the row", "integer"),
        Column("text", "text", "=Text", "=cmd|' /C calc'!A0", "text"),
    ),
)
ROWS = [(n, text) for n, text in enumerate(FORMULAS + PLAIN, 1)]


def grid(table: Table, rows) -> list[list]:
    return [[c.heading for c in table.columns], *[list(r) for r in rows]]


# Every sheet as the data has it: headings, cells and the data dictionary's text.
SOURCE = {
    "formulas": grid(TABLE, ROWS),
    "data_dictionary": grid(DICTIONARY, dictionary_rows([TABLE])),
}


def as_text(sheets: dict[str, list[list]]) -> dict[str, list[list[str]]]:
    return {name: [[str(v) for v in row] for row in rows] for name, rows in sheets.items()}


def ods_holds(text: str) -> str:
    """ODF has no CR: a line break is a new paragraph, read back as LF. LibreOffice also
    drops a <text:tab/> inside a cell, even from its own files."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "")


def as_ods(sheets: dict[str, list[list]]) -> dict[str, list[list]]:
    return {
        name: [[ods_holds(v) if isinstance(v, str) else v for v in row] for row in rows]
        for name, rows in sheets.items()
    }


def book(fmt: str, options: Options | None = None) -> bytes:
    options = options or Options(data_dictionary=True)
    return render(fmt, [(TABLE, ROWS)], options, dictionary=options.data_dictionary)[0]


def cells(path_or_data: Path | bytes) -> dict[str, list[list[openpyxl.cell.Cell]]]:
    source = io.BytesIO(path_or_data) if isinstance(path_or_data, bytes) else path_or_data
    workbook = openpyxl.load_workbook(source)
    return {ws.title: [list(row) for row in ws.iter_rows()] for ws in workbook}


def test_openpyxl_reads_xlsx_formula_text_as_the_exact_value_in_text_cells():
    sheets = cells(book("xlsx"))
    assert {n: [[c.value for c in row] for row in rows] for n, rows in sheets.items()} == SOURCE
    texts = [c for rows in sheets.values() for row in rows for c in row if isinstance(c.value, str)]
    assert {c.data_type for c in texts} == {"s"}
    assert not any(c.data_type == "f" for rows in sheets.values() for row in rows for c in row)


def test_xlsx_formula_text_and_only_it_carries_excels_quote_prefix():
    sheets = cells(book("xlsx"))
    texts = [c for rows in sheets.values() for row in rows for c in row if isinstance(c.value, str)]
    quoted = {c.value for c in texts if c.quotePrefix}
    assert quoted == {c.value for c in texts if c.value.startswith(FORMULA_TRIGGERS)}
    assert set(FORMULAS) | {"-5", "+N", "=Text", "=cmd|' /C calc'!A0"} <= quoted
    assert not {"plain", "a=1", "'=already quoted"} & quoted


@pytest.mark.parametrize("simplified", [False, True], ids=["bold", "simplified"])
def test_xlsx_formula_headings_keep_their_look_with_the_quote_prefix(simplified):
    header = cells(book("xlsx", Options(simplified=simplified)))["formulas"][0]
    assert [(c.value, bool(c.quotePrefix), bool(c.font.b)) for c in header] == [
        ("+N", True, not simplified),
        ("=Text", True, not simplified),
    ]


def test_xlsx_text_that_becomes_a_formula_once_cleaned_is_quote_prefixed():
    data = render("xlsx", [(TABLE, [(1, "\x01=1+1"), (2, "\x01plain")])])[0]
    column = [row[1] for row in cells(data)["formulas"][1:]]
    assert [(c.value, bool(c.quotePrefix)) for c in column] == [("=1+1", True), ("plain", False)]


@pytest.mark.parametrize("fmt", ["csv", "tsvzip"])
def test_csv_and_tsv_keep_a_leading_quote_on_formula_text(fmt):
    data = book(fmt, Options())
    if fmt == "tsvzip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read("formulas.tsv")
    delimiter = "\t" if fmt == "tsvzip" else ","
    rows = list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter))
    assert rows == [[neutralise(str(v)) for v in row] for row in SOURCE["formulas"]]
    assert rows[1][1] == "'=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def libreoffice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our XLSX and ODS as LibreOffice reads them: every sheet converted to CSV (what it
    shows), and saved again as XLSX (what it holds), side by side."""
    root = tmp_path_factory.mktemp("formulas")
    files = [save(root, f"from_{fmt}.{fmt}", book(fmt)) for fmt in ("xlsx", "ods")]
    soffice([(files, ALL_SHEETS_CSV, root / "csv", ""), (files, "xlsx", root / "xlsx", "")])
    return root


def read_csv(path: Path) -> list[list[str]]:
    assert path.exists(), f"LibreOffice did not write {path.name}"
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def shown_by_libreoffice(root: Path, fmt: str) -> dict[str, list[list[str]]]:
    return {name: read_csv(root / "csv" / f"from_{fmt}-{name}.csv") for name in SOURCE}


def test_libreoffice_shows_xlsx_formula_text_exactly_without_evaluating_it(libreoffice):
    assert shown_by_libreoffice(libreoffice, "xlsx") == as_text(SOURCE)


def test_libreoffice_shows_ods_formula_text_as_stored_without_evaluating_it(libreoffice):
    assert shown_by_libreoffice(libreoffice, "ods") == as_text(as_ods(SOURCE))


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_libreoffice_keeps_formula_text_as_text_cells_when_it_saves_them(libreoffice, fmt):
    sheets = cells(libreoffice / "xlsx" / f"from_{fmt}.xlsx")
    got = {n: [[c.value for c in row] for row in rows] for n, rows in sheets.items()}
    assert got == (SOURCE if fmt == "xlsx" else as_ods(SOURCE))
    assert not any(c.data_type == "f" for rows in sheets.values() for row in rows for c in row)
