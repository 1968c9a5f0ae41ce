import io
from datetime import datetime
from decimal import Decimal

import openpyxl

from exports.formats.base import Options, Table, neutralise
from exports.formats.xlsx import XlsxWriter
from tests.test_formats_support import BIG, OTHER, OTHER_ROWS, ROWS, TABLE, render


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_it_writes_formula_text_as_plain_strings():
    sheet = load(render("xlsx")[0])["points"]
    names = [row[1] for row in sheet.iter_rows(min_row=2, max_row=len(ROWS) - 1)]
    assert all(cell.data_type == "s" for cell in names if cell.value is not None)
    assert [c.value or "" for c in names] == [neutralise(r[1]) for r in ROWS[:-2]]
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_headers_are_neutralised_strings():
    sheet = load(render("xlsx")[0])["points"]
    header = next(sheet.iter_rows(max_row=1))
    assert [c.value for c in header] == [neutralise(c.heading) for c in TABLE.columns]
    assert header[0].value == "'=ID" and header[0].data_type == "s"


def test_error_code_text_stays_text():
    sheet = load(render("xlsx")[0])["points"]
    cell = sheet.cell(row=ROWS.index(ROWS[13]) + 2, column=2)
    assert (cell.value, cell.data_type) == ("#N/A", "s")


def test_numbers_stay_numbers():
    sheet = load(render("xlsx")[0])["points"]
    second = [c for c in next(sheet.iter_rows(min_row=3, max_row=3))]
    assert (second[0].value, second[0].data_type) == (2, "n")
    assert (second[2].value, second[2].data_type) == (-1.5, "n")
    assert (second[3].value, second[3].data_type) == (0.25, "n")
    assert (second[4].value, second[4].data_type) == (False, "b")


def test_integers_too_long_for_excel_stay_exact_as_text():
    sheet = load(render("xlsx")[0])["points"]
    cell = sheet.cell(row=len(ROWS) + 1, column=1)
    assert (cell.value, cell.data_type) == (str(BIG), "s")


def test_datetimes_are_date_cells_in_utc():
    sheet = load(render("xlsx")[0])["points"]
    created, day = sheet.cell(row=2, column=6), sheet.cell(row=2, column=7)
    assert created.is_date and created.value == datetime(2026, 3, 4, 5, 6, 7)
    assert day.is_date and day.value == datetime(2026, 1, 1)


def test_json_is_text_and_none_is_an_empty_cell():
    sheet = load(render("xlsx")[0])["points"]
    assert sheet.cell(row=2, column=8).value == '{"text": "plain", "n": [0, null]}'
    empty = next(sheet.iter_rows(min_row=len(ROWS), max_row=len(ROWS), values_only=True))
    assert empty == (100, None, None, None, None, None, None, None)


def test_it_removes_control_characters_and_says_so_in_notes():
    rows = [(1, "bell\x07 and\x01", Decimal(1), 1.0, True, None, None, None)]
    data, writer = render("xlsx", [(TABLE, rows)])
    assert load(data)["points"].cell(row=2, column=2).value == "bell and"
    assert writer.notes == ["Removed 2 control characters that XLSX cannot hold."]


def test_each_table_gets_its_own_sheet():
    data, _ = render("xlsx", [(TABLE, ROWS), (OTHER, OTHER_ROWS)], dictionary=True)
    book = load(data)
    assert book.sheetnames == ["points", "other table", "data_dictionary"]
    assert list(book["other table"].values) == [("'=ID", "Name"), (1, "first"), (2, "'=second")]
    dictionary = list(book["data_dictionary"].values)
    assert dictionary[0] == ("Table", "Column", "Heading", "Type", "Description")
    assert dictionary[1] == ("points", "id", "'=ID", "integer", "The row's number.")


def test_sheet_names_are_made_valid_and_unique():
    names = ["a/b[c]:d*e?f\\g", "x" * 40, "X" * 40, "'quoted'", "History"]
    data, _ = render("xlsx", [(Table(n, OTHER.columns), []) for n in names])
    assert load(data).sheetnames == [
        "a_b_c__d_e_f_g",
        "x" * 31,
        "X" * 29 + "_2",
        "quoted",
        "History_",
    ]


def test_by_default_the_header_is_bold_and_frozen():
    sheet = load(render("xlsx")[0])["points"]
    assert sheet.freeze_panes == "A2"
    assert sheet.cell(row=1, column=1).font.b
    assert sheet.column_dimensions["A"].width == 10


def test_the_simplified_option_writes_plain_data_only():
    sheet = load(render("xlsx", options=Options(simplified=True))[0])["points"]
    assert sheet.freeze_panes is None
    assert not sheet.cell(row=1, column=1).font.b
    assert sheet.column_dimensions["A"].width == 13  # openpyxl's default: none written


def test_an_export_with_no_tables_is_still_a_workbook():
    data, _ = render("xlsx", [])
    assert load(data).sheetnames == ["Sheet"]


def test_text_that_becomes_a_formula_after_control_characters_are_removed_stays_text():
    out = io.BytesIO()
    table = Table("t", TABLE.columns[1:2])
    writer = XlsxWriter(out, Options())
    writer.write_table(table, [("\x01=1+1",), ("\x02@SUM(A1)",)])
    writer.close()
    cells = [row[0] for row in load(out.getvalue())["t"].iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells][0].endswith("=1+1")
    assert writer.notes and "control character" in writer.notes[0]
