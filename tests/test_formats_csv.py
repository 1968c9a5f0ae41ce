import csv
import io
import zipfile

from exports.formats.base import Table, neutralise, text_cell
from tests.test_formats_support import OTHER, OTHER_ROWS, ROWS, TABLE, render


def read_csv(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def expected(rows, table=TABLE) -> list[list[str]]:
    header = [neutralise(c.heading) for c in table.columns]
    return [header] + [[text_cell(v) for v in row] for row in rows]


def test_csv_round_trips_through_the_csv_module():
    data, _ = render("csv")
    assert read_csv(data.decode()) == expected(ROWS)


def test_csv_neutralises_formulas_in_headers_and_cells_but_not_plain_numbers():
    rows = read_csv(render("csv")[0].decode())
    assert rows[0][0] == "'=ID"
    names = [r[1] for r in rows[1:]]
    assert {"'=1+1", "'+SUM(A1)", "'-2+3", "'@x", "-5"} <= set(names)


def test_csv_writes_canonical_text_for_every_kind():
    big = read_csv(render("csv")[0].decode())[-1]
    assert big[2:] == [
        "12345678.125",
        "-1.5",
        "false",
        "2026-03-04T05:06:07+00:00",
        "2026-12-31",
        "[]",
    ]


def test_tsv_zip_holds_one_tsv_per_table_that_round_trips():
    data, _ = render("tsvzip", [(TABLE, ROWS), (OTHER, OTHER_ROWS)])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["points.tsv", "other table.tsv"]
        first = archive.read("points.tsv").decode()
        second = archive.read("other table.tsv").decode()
    assert read_csv(first, "\t") == expected(ROWS)
    assert read_csv(second, "\t") == expected(OTHER_ROWS, OTHER)


def test_tsv_quotes_tabs_and_newlines_like_csv():
    data, _ = render("tsvzip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("points.tsv").decode()
    assert '\t"tab\tinside"\t' in text
    assert '\t"new\nline"\t' in text


def test_tsv_zip_file_names_are_safe_and_unique():
    tables = [(Table(n, TABLE.columns), []) for n in ["a/b", "A/B", "..", "con:x"]]
    data, _ = render("tsvzip", tables)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["a_b.tsv", "A_B_2.tsv", "table.tsv", "con_x.tsv"]


def test_tsv_zip_adds_the_data_dictionary_as_a_file():
    data, _ = render("tsvzip", dictionary=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = read_csv(archive.read("data_dictionary.tsv").decode(), "\t")
    assert rows[0] == ["Table", "Column", "Heading", "Type", "Description"]
    assert rows[1] == ["points", "id", "'=ID", "integer", "The row's number."]
