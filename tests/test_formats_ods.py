import io
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from xml.etree import ElementTree

from exports.datasets import Column
from exports.formats.base import Options, Table
from exports.formats.ods import MIMETYPE, NS, OdsWriter
from tests.test_formats_support import BIG, OTHER, OTHER_ROWS, ROWS, TABLE, render

OFFICE, TABLE_NS, TEXT = (f"{{{NS[p]}}}" for p in ("office", "table", "text"))


def content(data: bytes) -> ElementTree.Element:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return ElementTree.fromstring(archive.read("content.xml"))  # noqa: S314 (our own file)


def cell_text(cell: ElementTree.Element) -> str:
    """What a reader shows: paragraphs joined by newlines, <text:s>, <text:tab> expanded."""
    lines = []
    for paragraph in cell.iter(f"{TEXT}p"):
        parts = [paragraph.text or ""]
        for child in paragraph:
            if child.tag == f"{TEXT}s":
                parts.append(" " * int(child.get(f"{TEXT}c", "1")))
            elif child.tag == f"{TEXT}tab":
                parts.append("\t")
            parts.append(child.tail or "")
        lines.append("".join(parts))
    return "\n".join(lines)


def sheets(data: bytes) -> dict[str, list[list[ElementTree.Element]]]:
    return {
        t.get(f"{TABLE_NS}name"): [
            list(row.iter(f"{TABLE_NS}table-cell")) for row in t.iter(f"{TABLE_NS}table-row")
        ]
        for t in content(data).iter(f"{TABLE_NS}table")
    }


def test_the_mimetype_comes_first_and_uncompressed():
    with zipfile.ZipFile(io.BytesIO(render("ods")[0])) as archive:
        first = archive.infolist()[0]
        assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
        assert archive.read("mimetype").decode() == MIMETYPE
        assert "META-INF/manifest.xml" in archive.namelist()
        assert archive.testzip() is None


def test_text_cells_are_typed_strings_that_keep_spaces_tabs_and_newlines():
    rows = sheets(render("ods")[0])["points"]
    names = [row[1] for row in rows[1 : len(ROWS) - 1]]
    assert all(c.get(f"{OFFICE}value-type") == "string" for c in names)
    assert [cell_text(c) for c in names] == [r[1] for r in ROWS[:-2]]


def test_headers_are_string_cells_as_given():
    header = sheets(render("ods")[0])["points"][0]
    assert [cell_text(c) for c in header] == [c.heading for c in TABLE.columns]
    assert {c.get(f"{OFFICE}value-type") for c in header} == {"string"}


def test_numbers_are_float_cells_with_exact_values():
    row = sheets(render("ods")[0])["points"][2]
    assert [(c.get(f"{OFFICE}value-type"), c.get(f"{OFFICE}value")) for c in row[:4]] == [
        ("float", "2"),
        ("string", None),
        ("float", "-1.50"),
        ("float", "0.25"),
    ]
    assert row[4].get(f"{OFFICE}boolean-value") == "false"


def test_dates_and_times_are_date_cells_in_utc():
    row = sheets(render("ods")[0])["points"][2]
    assert row[5].get(f"{OFFICE}value-type") == "date"
    assert row[5].get(f"{OFFICE}date-value") == "2026-03-04T05:06:07.001000"
    assert row[6].get(f"{OFFICE}date-value") == "2026-01-02"


def test_integers_too_long_for_a_spreadsheet_stay_exact_as_text():
    last = sheets(render("ods")[0])["points"][-1]
    assert (last[0].get(f"{OFFICE}value-type"), cell_text(last[0])) == ("string", str(BIG))


def test_it_removes_characters_xml_cannot_hold_and_says_so():
    rows = [(1, "a\x00b\x1fc", None, None, None, None, None, None)]
    data, writer = render("ods", [(TABLE, rows)])
    assert cell_text(sheets(data)["points"][1][1]) == "abc"
    assert writer.notes == ["Removed 2 control characters that ODS (XML) cannot hold."]


def test_each_table_is_a_sheet_including_the_data_dictionary():
    data, _ = render(
        "ods", [(TABLE, ROWS), (OTHER, OTHER_ROWS), (Table("a/b", ()), [])], dictionary=True
    )
    found = sheets(data)
    assert list(found) == ["points", "other table", "a_b", "data_dictionary"]
    assert [cell_text(c) for c in found["other table"][2]] == ["2", "=second"]
    assert len(found["data_dictionary"]) == 1 + len(TABLE.columns) + len(OTHER.columns)


def test_by_default_the_header_is_bold_and_frozen():
    data, _ = render("ods")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "VerticalSplitPosition" in archive.read("settings.xml").decode()
    assert sheets(data)["points"][0][0].get(f"{TABLE_NS}style-name") == "heading"


def test_the_simplified_option_writes_plain_data_only():
    data, _ = render("ods", options=Options(simplified=True))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "settings.xml" not in archive.namelist()
    assert sheets(data)["points"][0][0].get(f"{TABLE_NS}style-name") is None


def write(rows: list, kind: str, writer_class=OdsWriter) -> tuple[bytes, OdsWriter]:
    out = io.BytesIO()
    writer = writer_class(out, Options())
    table = Table("t", (Column("c", "c", "C", "", kind),))
    assert writer.write_table(table, iter(rows)) == len(rows)
    writer.close()
    return out.getvalue(), writer


def column_cells(data: bytes, sheet: str = "t") -> list[ElementTree.Element]:
    return [row[0] for row in sheets(data)[sheet][1:]]


def test_datetimes_are_utc_wall_clock_with_or_without_fractions():
    rows = [
        (datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),),
        (datetime(2026, 3, 4, 5, 6, 7, 250000, tzinfo=timezone(timedelta(hours=2))),),
        (datetime(2026, 3, 4, 5, 6, 7),),
    ]
    cells = column_cells(write(rows, "datetime")[0])
    assert [c.get(f"{OFFICE}date-value") for c in cells] == [
        "2026-03-04T05:06:07",
        "2026-03-04T03:06:07.250000",
        "2026-03-04T05:06:07",
    ]
    assert cell_text(cells[1]) == "2026-03-04 03:06:07"


def test_numbers_a_spreadsheet_cannot_hold_exactly_are_text():
    rows = [(10**15 - 1,), (-(10**15),), (float("nan"),), (Decimal("Infinity"),), (0.5,)]
    cells = column_cells(write(rows, "decimal")[0])
    assert [(c.get(f"{OFFICE}value-type"), cell_text(c)) for c in cells] == [
        ("float", str(10**15 - 1)),
        ("string", str(-(10**15))),
        ("string", "nan"),
        ("string", "Infinity"),
        ("float", "0.5"),
    ]


def test_text_that_becomes_a_formula_once_cleaned_is_still_a_string_cell():
    data, writer = write([("\x01=1+1",), ("a\ud800b\ufffe",)], "text")
    cells = column_cells(data)
    assert [cell_text(c) for c in cells] == ["=1+1", "ab"]
    assert {c.get(f"{OFFICE}value-type") for c in cells} == {"string"}
    assert writer.notes == ["Removed 3 control characters that ODS (XML) cannot hold."]


class SmallSheets(OdsWriter):
    sheet_rows = 4  # the header and three rows


def test_a_table_that_does_not_fit_continues_on_numbered_sheets():
    data, writer = write([(i,) for i in range(7)], "integer", SmallSheets)
    found = sheets(data)
    assert list(found) == ["t", "t (2)", "t (3)"]
    assert [cell_text(r[0]) for s in found.values() for r in s] == (
        ["C", "0", "1", "2", "C", "3", "4", "5", "C", "6"]
    )
    assert writer.notes == ["t: 7 rows do not fit on one sheet; continued on 't (2)', 't (3)'."]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("settings.xml").decode().count("VerticalSplitMode") == 3


def test_a_table_that_just_fits_stays_on_one_sheet():
    data, writer = write([(i,) for i in range(3)], "integer", SmallSheets)
    assert list(sheets(data)) == ["t"] and writer.notes == []
