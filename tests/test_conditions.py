"""The filter language accepts what it documents and names whatever it refuses."""

import pytest
from django.db.models import Q

from exports.datasets.conditions import ConditionError, to_q

FIELDS = {"game": "game_id", "created": "created", "name": "task__name"}


def test_equality_in_and_not():
    assert to_q({"game": 3}, FIELDS) == Q(game_id=3)
    assert to_q({"game": [1, 2]}, FIELDS) == Q(game_id__in=[1, 2])
    assert to_q({"game": {"not": 3}}, FIELDS) == ~Q(game_id=3)


def test_ranges_and_and_within_an_object():
    q = to_q({"created": {"ge": "2026-01-01", "lt": "2026-02-01"}, "game": 1}, FIELDS)
    assert q == Q(created__gte="2026-01-01") & Q(created__lt="2026-02-01") & Q(game_id=1)


def test_or_across_a_list():
    assert to_q([{"game": 1}, {"game": 2}], FIELDS) == Q(game_id=1) | Q(game_id=2)


def test_like_becomes_the_matching_lookup():
    assert to_q({"name": {"like": "%ask%"}}, FIELDS) == Q(task__name__contains="ask")
    assert to_q({"name": {"like": "Ta%"}}, FIELDS) == Q(task__name__startswith="Ta")
    assert to_q({"name": {"like": "T_sk%"}}, FIELDS) == Q(task__name__regex="^T.sk.*$")


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"owner__password__startswith": "pbkdf2"}, "Unknown filter field 'owner__password"),
        ({"game": {"regex": ".*"}}, "Unknown operator 'regex' on filter 'game'"),
        ({"game": {}}, "empty set of operators"),
        ([], "must not be empty"),
        ("game=1", "must be an object"),
        ({"game": {"in": 3}}, "'in' needs a list"),
    ],
)
def test_anything_else_is_refused_by_name(conditions, message):
    with pytest.raises(ConditionError, match=message.replace("(", r"\(")):
        to_q(conditions, FIELDS)
