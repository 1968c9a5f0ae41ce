import json
from decimal import Decimal

import pytest

from exports.formats.base import Options, text_of
from tests.test_formats_support import BIG, OTHER, OTHER_ROWS, ROWS, TABLE, render


def test_it_writes_an_array_of_objects_keyed_by_column_name():
    data, _ = render("json")
    loaded = json.loads(data, parse_float=Decimal)
    assert len(loaded) == len(ROWS)
    first = loaded[0]
    assert list(first) == [c.name for c in TABLE.columns]
    assert first["name"] == "plain"
    assert first["active"] is True
    assert first["created"] == "2026-03-04T05:06:07+00:00"
    assert first["day"] == "2026-01-01"


def test_json_columns_are_nested_as_real_json():
    loaded = json.loads(render("json")[0])
    assert loaded[0]["data"] == {"text": "plain", "n": [0, None]}
    assert loaded[-1]["data"] == []


def test_text_keeps_every_awkward_character_without_neutralising():
    loaded = json.loads(render("json")[0])
    assert [r["name"] for r in loaded] == [r[1] for r in ROWS]


def test_decimals_and_big_integers_are_exact_numbers():
    data, _ = render("json")
    assert b'"amount": -1.50' in data
    loaded = json.loads(data, parse_float=Decimal)
    assert loaded[1]["amount"] == Decimal("-1.50")
    assert loaded[-1]["amount"] == Decimal("12345678.125")
    assert loaded[-1]["id"] == BIG


def test_none_becomes_null():
    loaded = json.loads(render("json")[0])
    assert set(loaded[-2].values()) == {100, None}


def test_datetimes_are_canonical_iso_text():
    loaded = json.loads(render("json")[0])
    assert [r["created"] for r in loaded[:-2]] == [text_of(r[5]) for r in ROWS[:-2]]
    assert loaded[1]["created"] == "2026-03-04T05:06:07.001+00:00"


def test_an_empty_table_is_an_empty_array():
    data, _ = render("json", [(TABLE, [])])
    assert json.loads(data) == []
    assert data == b"[]\n"


def test_non_finite_floats_become_null_so_the_file_stays_valid_json():
    row = (1, "x", Decimal("NaN"), float("inf"), None, None, None, None)
    loaded = json.loads(render("json", [(TABLE, [row])])[0])
    assert loaded[0]["amount"] is None
    assert loaded[0]["ratio"] is None


def test_several_tables_make_an_object_of_arrays():
    data, _ = render(
        "json",
        [(TABLE, ROWS), (OTHER, OTHER_ROWS)],
        options=Options(extra={"multi_table": True}),
    )
    loaded = json.loads(data)
    assert list(loaded) == ["points", "other table"]
    assert loaded["other table"] == [{"id": 1, "name": "first"}, {"id": 2, "name": "=second"}]


def test_the_data_dictionary_is_one_more_array():
    loaded = json.loads(render("json", dictionary=True)[0])
    assert list(loaded) == ["points", "data_dictionary"]
    assert loaded["data_dictionary"][0] == {
        "table": "points",
        "column": "id",
        "heading": "=ID",
        "type": "integer",
        "description": "The row's number.",
    }


def test_a_second_table_without_the_multi_table_hint_is_refused():
    with pytest.raises(RuntimeError, match="multi_table"):
        render("json", [(TABLE, ROWS), (OTHER, OTHER_ROWS)])
