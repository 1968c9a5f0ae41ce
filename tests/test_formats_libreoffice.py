"""LibreOffice, the program users open these files with, reads them as we mean them.

One module fixture runs every conversion (side by side), since each soffice start is slow;
another writes, converts and reads back the files past a sheet's 1,048,576 rows.
"""

import csv
import threading
from pathlib import Path

import openpyxl
import pytest

from exports.datasets import Column
from exports.formats import get_writer
from exports.formats.base import SHEET_ROWS, Options, Table, neutralise
from tests.test_formats_support import OTHER, OTHER_ROWS, ROWS, TABLE, render, save, soffice

ALL_SHEETS_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
CSV_IMPORT = "CSV:44,34,76,1"
TABLES = [(TABLE, ROWS), (OTHER, OTHER_ROWS)]
# Text as the data has it (XLSX, ODS), and as a CSV writes it (formula-like text quoted).
TEXTS_AS_GIVEN = [r[1] for r in ROWS[:-2]]
NAMES = [neutralise(r[1]) for r in ROWS[:-2]]
TEXT = Table("text", (Column("text", "text", "Text", "", "text"),))
TEXTS = ["_x0041_ is not A", "cr\rinside", "  spaced  ", "a & <b>", "\x01=1+1"]
# One table a row longer than a sheet holds with its header row: 1,048,576 rows of data.
BIG = Table("big", (Column("n", "n", "N", "", "integer"),))
BIG_ROWS = SHEET_ROWS


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    out = tmp_path_factory.mktemp("converted")
    books = [
        save(source, f"book_{fmt}.{fmt}", render(fmt, TABLES, dictionary=True)[0])
        for fmt in ("xlsx", "ods")
    ]
    typed = save(source, "typed.ods", render("ods")[0])
    data = save(source, "data.csv", render("csv")[0])
    text = save(source, "text.xlsx", render("xlsx", [(TEXT, [(t,) for t in TEXTS])])[0])
    soffice(
        [
            (books + [text], ALL_SHEETS_CSV, out / "csv", ""),
            ([typed], "xlsx", out / "typed", ""),
            ([data], "xlsx", out / "imported", CSV_IMPORT),
        ]
    )
    return out


def read_csv(path: Path) -> list[list[str]]:
    assert path.exists(), f"LibreOffice did not write {path.name}"
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def load_sheet(path: Path) -> list[list[openpyxl.cell.Cell]]:
    assert path.exists(), f"LibreOffice did not write {path.name}"
    return [list(row) for row in openpyxl.load_workbook(path).active.iter_rows()]


def test_libreoffice_shows_xlsx_text_exactly_as_written_without_evaluating_it(converted):
    rows = read_csv(converted / "csv" / "book_xlsx-points.csv")
    assert rows[0][0] == "=ID"
    assert [r[1] for r in rows[1 : len(ROWS) - 1]] == TEXTS_AS_GIVEN
    assert rows[-1][0] == str(ROWS[-1][0])


def test_libreoffice_shows_ods_text_as_written_without_evaluating_it(converted):
    rows = read_csv(converted / "csv" / "book_ods-points.csv")
    assert rows[0][0] == "=ID"
    # LibreOffice drops <text:tab/> inside cells even from its own files.
    expected = [n.replace("\t", "") for n in TEXTS_AS_GIVEN]
    assert [r[1] for r in rows[1 : len(ROWS) - 1]] == expected


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_libreoffice_opens_every_sheet(converted, fmt):
    other = read_csv(converted / "csv" / f"book_{fmt}-other table.csv")
    assert other == [["=ID", "Name"], ["1", "first"], ["2", "=second"]]
    dictionary = read_csv(converted / "csv" / f"book_{fmt}-data_dictionary.csv")
    assert dictionary[1] == ["points", "id", "=ID", "integer", "The row's number."]
    assert len(dictionary) == 1 + len(TABLE.columns) + len(OTHER.columns)


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_libreoffice_reads_numbers_booleans_and_dates_as_such(converted, fmt):
    rows = read_csv(converted / "csv" / f"book_{fmt}-points.csv")
    assert rows[2][:5] == ["2", "comma, inside", "-1.5", "0.25", "FALSE"]
    assert rows[2][5:7] == ["2026-03-04 05:06:07", "2026-01-02"]


def test_ods_numbers_stay_numbers_after_libreoffice_converts_them(converted):
    rows = load_sheet(converted / "typed" / "typed.xlsx")
    second = rows[2]
    assert [(c.value, c.data_type) for c in second[:4]] == [
        (2, "n"),
        ("comma, inside", "s"),
        (-1.5, "n"),
        (0.25, "n"),
    ]
    assert not any(c.data_type == "f" for row in rows for c in row)


def test_libreoffice_imports_our_csv_without_evaluating_formulas(converted):
    rows = load_sheet(converted / "imported" / "data.xlsx")
    assert not any(c.data_type == "f" for row in rows for c in row)
    assert rows[0][0].value == "'=ID"
    # A CSV has no types: "-5" comes back as the number -5, as it should.
    names = [str(r[1].value or "") for r in rows[1 : len(ROWS) - 1]]
    assert names == NAMES
    assert (rows[2][2].value, rows[2][2].data_type) == (-1.5, "n")


def test_libreoffice_reads_xlsx_text_with_excel_escapes_line_breaks_and_spaces(converted):
    rows = read_csv(converted / "csv" / "text-text.csv")
    assert [r[0] for r in rows[1:]] == [*TEXTS[:-1], "=1+1"]


@pytest.fixture(scope="module")
def past_the_limit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """XLSX and ODS of BIG_ROWS narrow rows; LibreOffice converts both to CSV while openpyxl
    reads the XLSX (the two run side by side: each takes about 15 s here)."""
    source = tmp_path_factory.mktemp("big")
    out = tmp_path_factory.mktemp("big-csv")
    notes = {}
    for fmt in ("xlsx", "ods"):
        with (source / f"big.{fmt}").open("wb") as f:
            writer = get_writer(fmt)(f, Options(simplified=True))
            assert writer.write_table(BIG, ((i,) for i in range(BIG_ROWS))) == BIG_ROWS
            writer.close()
        notes[fmt] = writer.notes
    files = [source / "big.xlsx", source / "big.ods"]
    converting = threading.Thread(target=soffice, args=([(files, ALL_SHEETS_CSV, out, "")],))
    converting.start()
    book = openpyxl.load_workbook(source / "big.xlsx", read_only=True)
    read = {ws.title: [row[0] for row in ws.iter_rows(values_only=True)] for ws in book}
    book.close()
    converting.join()
    return {"notes": notes, "openpyxl": read, "csv": out}


def expected_sheets() -> dict[str, list]:
    first = SHEET_ROWS - 1
    return {"big": ["N", *range(first)], "big (2)": ["N", *range(first, BIG_ROWS)]}


def test_openpyxl_reads_every_row_of_an_xlsx_past_the_sheet_limit(past_the_limit):
    assert past_the_limit["openpyxl"] == expected_sheets()
    assert len(past_the_limit["openpyxl"]["big"]) == SHEET_ROWS


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_libreoffice_reads_every_row_past_the_sheet_limit(past_the_limit, fmt):
    for sheet, expected in expected_sheets().items():
        path = past_the_limit["csv"] / f"big-{sheet}.csv"
        assert path.exists(), f"LibreOffice did not write {path.name}"
        lines = path.read_text().splitlines()
        assert lines[0] == "N"
        assert [int(n) for n in lines[1:]] == expected[1:], sheet
    note = "big: 1,048,576 rows do not fit on one sheet; continued on 'big (2)'."
    assert past_the_limit["notes"][fmt] == [note]
