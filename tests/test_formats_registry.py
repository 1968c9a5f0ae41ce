import sys

import pytest

from exports.formats import WRITERS, MissingDependency, UnknownFormat, get_writer
from exports.formats.base import DICTIONARY, Options, Writer, dictionary_rows, neutralise
from tests.test_formats_support import OTHER, TABLE

MEDIA_TYPES = {
    "csv": ("csv", "text/csv"),
    "json": ("json", "application/json"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "ods": ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    "tsvzip": ("zip", "application/zip"),
    "sqlite": ("sqlite3", "application/vnd.sqlite3"),
    "sql": ("sql", "application/sql"),
    "r": ("R", "text/x-r"),
}


@pytest.mark.parametrize("fmt", sorted(MEDIA_TYPES))
def test_every_format_has_a_writer_with_its_extension_and_media_type(fmt):
    writer_class = get_writer(fmt)
    assert issubclass(writer_class, Writer)
    assert (writer_class.extension, writer_class.content_type) == MEDIA_TYPES[fmt]


def test_the_registry_lists_exactly_the_known_formats():
    assert set(WRITERS) == set(MEDIA_TYPES)


def test_an_unknown_format_is_refused_by_name():
    with pytest.raises(UnknownFormat, match="'pdf'"):
        get_writer("pdf")


def test_a_missing_library_raises_missing_dependency_naming_the_package(monkeypatch):
    # No built-in format needs an optional library any more; a writer that does is simulated.
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    monkeypatch.setitem(WRITERS, "fake", ("Fake", "openpyxl.FakeWriter"))
    with pytest.raises(MissingDependency, match="'openpyxl'"):
        get_writer("fake")


def test_every_format_loads_when_openpyxl_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    monkeypatch.delitem(sys.modules, "exports.formats.xlsx", raising=False)
    for fmt in MEDIA_TYPES:
        assert get_writer(fmt)


def test_the_data_dictionary_describes_every_column_of_every_table():
    rows = list(dictionary_rows([TABLE, OTHER]))
    assert len(rows) == len(TABLE.columns) + len(OTHER.columns)
    assert rows[0] == ("points", "id", "=ID", "integer", "The row's number.")
    assert rows[-1][:2] == ("other table", "name")
    assert [c.name for c in DICTIONARY.columns] == [
        "table",
        "column",
        "heading",
        "type",
        "description",
    ]


def test_writers_start_with_no_notes():
    assert Writer(None, Options()).notes == []  # type: ignore[arg-type]


def test_unique_names_are_case_blind_and_respect_a_length_limit():
    writer = Writer(None)  # type: ignore[arg-type]
    assert writer.unique_name("Points") == "Points"
    assert writer.unique_name("points") == "points_2"
    assert writer.unique_name("x" * 40, 31) == "x" * 31
    assert writer.unique_name("x" * 40, 31) == "x" * 29 + "_2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("-5", "-5"),
        ("plain", "plain"),
    ],
)
def test_neutralise_quotes_formulas_but_not_plain_numbers(text, expected):
    assert neutralise(text) == expected
