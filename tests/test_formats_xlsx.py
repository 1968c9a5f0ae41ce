import io
import re
import zipfile
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest

from exports.datasets import Column
from exports.formats.base import Options, Table, naive_utc
from exports.formats.xlsx import XlsxWriter
from tests.test_formats_support import BIG, OTHER, OTHER_ROWS, ROWS, TABLE, render


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_it_writes_formula_text_as_plain_strings():
    sheet = load(render("xlsx")[0])["points"]
    names = [row[1] for row in sheet.iter_rows(min_row=2, max_row=len(ROWS) - 1)]
    assert all(cell.data_type == "s" for cell in names if cell.value is not None)
    assert [c.value or "" for c in names] == [r[1] for r in ROWS[:-2]]
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_headers_are_strings_as_given():
    sheet = load(render("xlsx")[0])["points"]
    header = next(sheet.iter_rows(max_row=1))
    assert [c.value for c in header] == [c.heading for c in TABLE.columns]
    assert header[0].value == "=ID" and header[0].data_type == "s" and header[0].quotePrefix


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
    assert list(book["other table"].values) == [("=ID", "Name"), (1, "first"), (2, "=second")]
    dictionary = list(book["data_dictionary"].values)
    assert dictionary[0] == ("Table", "Column", "Heading", "Type", "Description")
    assert dictionary[1] == ("points", "id", "=ID", "integer", "The row's number.")


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


def write(rows: list, columns=TABLE.columns, writer_class=XlsxWriter, out=None):
    """One table of the given columns through the writer; returns (bytes, writer)."""
    out = out or io.BytesIO()
    writer = writer_class(out, Options())
    assert writer.write_table(Table("t", columns), iter(rows)) == len(rows)
    writer.close()
    return out.getvalue() if isinstance(out, io.BytesIO) else None, writer


def column(kind: str) -> tuple:
    return (Column("c", "c", "C", "", kind),)


def values(data: bytes, sheet: str = "t") -> list:
    return [row[0] for row in load(data)[sheet].iter_rows(min_row=2)]


def test_cells_are_typed_as_numbers_booleans_dates_and_text():
    row = sheet_row(render("xlsx")[0], 3)
    assert [(c.data_type, type(c.value)) for c in row] == [
        ("n", int),
        ("s", str),
        ("n", float),
        ("n", float),
        ("b", bool),
        ("d", datetime),
        ("d", datetime),
        ("s", str),
    ]
    assert row[2].value == -1.5 and row[6].value == datetime(2026, 1, 2)


def sheet_row(data: bytes, number: int) -> list:
    return list(next(load(data)["points"].iter_rows(min_row=number, max_row=number)))


def test_dates_and_times_keep_their_value_and_show_as_iso():
    moments = [
        (datetime(2026, 3, 4, 5, 6, 7, 8000, tzinfo=UTC), "datetime", None),
        (datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-5))), "datetime", None),
        (datetime(2026, 3, 4, 23, 59, 59), "datetime", None),
        (date(1900, 1, 1), "date", datetime(1900, 1, 1)),
        (date(1900, 2, 28), "date", datetime(1900, 2, 28)),
        (date(1900, 3, 1), "date", datetime(1900, 3, 1)),
        (date(9999, 12, 31), "date", datetime(9999, 12, 31)),
        (time(13, 14, 15), "time", time(13, 14, 15)),
    ]
    data, _ = write([(v,) for v, _, _ in moments], column("datetime"))
    cells = values(data)
    assert all(c.is_date for c in cells)
    assert [c.value for c in cells] == [e or naive_utc(v) for v, _, e in moments]
    assert cells[1].value == datetime(2026, 3, 4, 10, 6, 7)
    assert {c.number_format for c in cells} == {"yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd", "hh:mm:ss"}
    for value, kind, _ in moments:
        assert values(write([(value,)], column(kind))[0])[0].is_date


def test_numbers_a_spreadsheet_cannot_hold_exactly_are_text_never_nan_in_a_value():
    rows = [
        (10**15 - 1,),
        (10**15,),
        (-(10**15),),
        (float("nan"),),
        (float("inf"),),
        (Decimal("NaN"),),
        (Decimal("-Infinity"),),
        (Decimal("1E+3"),),
    ]
    data, _ = write(rows, column("decimal"))
    got = [(c.value, c.data_type) for c in values(data)]
    assert got == [
        (10**15 - 1, "n"),
        (str(10**15), "s"),
        (str(-(10**15)), "s"),
        ("nan", "s"),
        ("inf", "s"),
        ("NaN", "s"),
        ("-Infinity", "s"),
        (1000, "n"),
    ]
    sheet = sheet_xml(data)
    assert not re.search(r"<v>[^<]*(nan|inf|NaN|Inf)", sheet)


def sheet_xml(data: bytes, number: int = 1) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(f"xl/worksheets/sheet{number}.xml").decode()


def test_text_keeps_spaces_line_breaks_markup_and_excel_escapes():
    texts = ["  both  ", "cr\rlf\r\nlf\n", "a & <b> ]]>", "_x0041_ stays", "😀 astral"]
    data, writer = write([(t,) for t in texts], column("text"))
    assert [c.value for c in values(data)][:3] == texts[:3]
    # Excel and LibreOffice read _xHHHH_ as a character: the underscore is escaped for them
    # (LibreOffice's reading is checked in test_formats_libreoffice); openpyxl does not decode.
    assert "_x005F_x0041_ stays" in sheet_xml(data)
    assert values(data)[4].value == "😀 astral"
    assert writer.notes == []


def test_characters_xml_cannot_hold_are_removed_and_counted():
    data, writer = write([("a\ud800b\ufffe\x0bc",)], column("text"))
    assert values(data)[0].value == "abc"
    assert writer.notes == ["Removed 3 control characters that XLSX cannot hold."]


def test_text_is_cut_at_excels_cell_limit_in_utf16_units_with_a_note():
    rows = [("x" * 40_000,), ("😀" * 20_000,), ("=" + "y" * 32_766,), ("z" * 32_767,)]
    data, writer = write(rows, column("text"))
    got = [c.value for c in values(data)]
    assert got[0] == "x" * 32_767
    assert got[1] == "😀" * 16_383  # 32,766 units: the pair that would not fit is dropped
    assert got[2] == "=" + "y" * 32_766  # no quote character to make room for
    assert got[3] == "z" * 32_767
    assert writer.notes == ["Cut 2 text values to XLSX's limit of 32767 characters."]


def test_json_and_other_values_in_text_columns_are_text():
    rows = [({"a": [1, None]},), ([],), (Decimal("-5"),), (time(1, 2),), (True,)]
    data, _ = write(rows, column("json"))
    assert [c.value for c in values(data)] == ['{"a": [1, null]}', "[]", "-5", "01:02:00", "true"]


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="8 values"):
        write([(1, "short")])


class SmallSheets(XlsxWriter):
    sheet_rows = 4  # the header and three rows


@pytest.mark.parametrize(
    ("count", "sheets"),
    [
        (3, ["t"]),
        (4, ["t", "t (2)"]),
        (7, ["t", "t (2)", "t (3)"]),
    ],
)
def test_a_table_that_does_not_fit_continues_on_numbered_sheets(count, sheets):
    data, writer = write([(i,) for i in range(count)], column("integer"), SmallSheets)
    book = load(data)
    assert book.sheetnames == sheets
    assert [c.value for s in sheets for c in values(data, s)] == list(range(count))
    assert all(book[s].cell(row=1, column=1).value == "C" for s in sheets)
    if len(sheets) > 1:
        more = ", ".join(repr(s) for s in sheets[1:])
        assert writer.notes == [f"t: {count:,} rows do not fit on one sheet; continued on {more}."]
    else:
        assert writer.notes == []


def test_continuation_sheet_names_stay_within_31_characters_and_unique():
    out = io.BytesIO()
    writer = SmallSheets(out, Options())
    for name in ("n" * 40, "n" * 40, "n" * 27 + " (2)"):
        writer.write_table(Table(name, column("integer")), [(i,) for i in range(4)])
    writer.close()
    names = load(out.getvalue()).sheetnames
    assert names[:4] == ["n" * 31, "n" * 27 + " (2)", "n" * 29 + "_2", "n" * 25 + "_2 (2)"]
    assert all(len(n) <= 31 for n in names)
    assert len({n.casefold() for n in names}) == len(names) == 6


class SmallMembers(XlsxWriter):
    member_limit = 4000  # bytes of sheet XML


def test_a_sheet_never_needs_zip64_it_continues_on_the_next_sheet_instead():
    rows = [(i, f"row {i}") for i in range(300)]
    data, writer = write(rows, TABLE.columns[:2], SmallMembers)
    book = load(data)
    assert len(book.sheetnames) > 2
    got = [r for s in book.sheetnames for r in book[s].iter_rows(min_row=2, values_only=True)]
    assert got == rows
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        sheets = [i for i in archive.infolist() if i.filename.startswith("xl/worksheets/")]
        assert all(i.file_size <= SmallMembers.member_limit for i in sheets)
        assert all(i.extra == b"" for i in archive.infolist())
    assert "continued on 't (2)', 't (3)'" in writer.notes[0]


class Unseekable(io.RawIOBase):
    """The immediate response: bytes go out as they come and nothing can be rewritten."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.data += data
        return len(data)


def test_it_streams_into_an_unseekable_file():
    out = Unseekable()
    write(ROWS, out=out)
    sheet = load(bytes(out.data))["t"]
    assert sheet.max_row == len(ROWS) + 1
    assert sheet.cell(row=2, column=2).value == "plain"
