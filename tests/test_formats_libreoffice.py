"""LibreOffice, the program users open these files with, reads them as we mean them.

One module fixture runs every conversion (side by side), since each soffice start is slow.
"""

import csv
from pathlib import Path

import openpyxl
import pytest

from exports.formats.base import neutralise
from tests.test_formats_support import OTHER, OTHER_ROWS, ROWS, TABLE, render, save, soffice

ALL_SHEETS_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
CSV_IMPORT = "CSV:44,34,76,1"
TABLES = [(TABLE, ROWS), (OTHER, OTHER_ROWS)]
NAMES = [neutralise(r[1]) for r in ROWS[:-2]]


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
    soffice(
        [
            (books, ALL_SHEETS_CSV, out / "csv", ""),
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
    assert rows[0][0] == "'=ID"
    assert [r[1] for r in rows[1 : len(ROWS) - 1]] == NAMES
    assert rows[-1][0] == str(ROWS[-1][0])


def test_libreoffice_shows_ods_text_as_written_without_evaluating_it(converted):
    rows = read_csv(converted / "csv" / "book_ods-points.csv")
    assert rows[0][0] == "'=ID"
    # LibreOffice drops <text:tab/> inside cells even from its own files.
    expected = [n.replace("\t", "") for n in NAMES]
    assert [r[1] for r in rows[1 : len(ROWS) - 1]] == expected


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_libreoffice_opens_every_sheet(converted, fmt):
    other = read_csv(converted / "csv" / f"book_{fmt}-other table.csv")
    assert other == [["'=ID", "Name"], ["1", "first"], ["2", "'=second"]]
    dictionary = read_csv(converted / "csv" / f"book_{fmt}-data_dictionary.csv")
    assert dictionary[1] == ["points", "id", "'=ID", "integer", "The row's number."]
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
