"""Hostile values in every parameter the API reads answer a 4xx problem that names the
parameter or filter, never a 500 (issue 20, finding 7): numbers past a float's range, UTC
offsets no zone has, dates at the end of the calendar, digits that are not ASCII, conditions
nested thousands deep. A seeded generator then throws many more at the same parameters."""

import base64
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest

from exports.datasets.conditions import MAX_DEPTH
from exports.datasets.registry import registry
from tests.api.conftest import Api, Reply, audit_count
from tests.api.test_security import assert_problem
from tests.hostile import Hostile, Raw, to_json

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
JSON = {"Content-Type": "application/json"}


def nested_not(depth: int) -> str:
    """{"points": {"not": {"not": … 1 …}}} with `depth` objects in all, as text (json.dumps
    would itself recurse)."""
    inner = depth - 1
    return '{"points": ' + '{"not": ' * inner + "1" + "}" * inner + "}"


# (dataset, the filter's JSON text, words the 400 must hold)
BAD_FILTERS = [
    ("user_points", '{"points": 1e400}', "'points'", "finite"),
    ("user_points", '{"points": {"gt": -1e400}}', "'points'", "finite"),
    ("user_points", '{"points": NaN}', "'points'", "finite"),
    ("user_points", '{"points": Infinity}', "'points'", "finite"),
    ("user_points", '{"created": {"ge": "2026-06-09T00:00:00+23:59"}}', "'created'", "±14:00"),
    ("user_points", '{"created": {"lt": "2026-06-09T00:00:00-23:59"}}', "'created'", "±14:00"),
    ("user_points", '{"created": "9999-12-31T23:59:59-14:00"}', "'created'", "9998-12-31"),
    ("user_points", '{"game": "99999999999999999999"}', "'game'", "64-bit"),
    ("user_points", '{"points": {"in": [18446744073709551616]}}', "'points'", "64-bit"),
    ("wallet_transactions", '{"kind": "a\\u0000b"}', "'kind'", "NUL"),
    ("wallet_transactions", '{"kind": {"like": "\\ud800%"}}', "'kind'", "surrogate"),
    ("user_points", nested_not(3000), f"{MAX_DEPTH} levels"),
    ("user_points", nested_not(MAX_DEPTH + 1), f"{MAX_DEPTH} levels"),
]
# (the shortcut or limit, words the 400 must hold): digits are ASCII, days end at 9998
BAD_PARAMETERS = [
    ({"to": "9999-12-31"}, "'to'", "9998-12-31"),
    ({"from": "0001-01-01"}, "'from'", "1000-01-01"),
    ({"game": "²"}, "'game'"),
    ({"game": "١٢"}, "'game'"),
    ({"task": "9" * 30}, "'task'"),
    ({"limit": "１０"}, "'limit'"),
    ({"limit": "1_0"}, "'limit'"),
    ({"limit": "99999999999999999999"}, "'limit'"),
]
BAD_CURSOR_TIMES = [
    "2026-06-09T00:00:00+23:59",
    "2026-06-09T00:00:00-23:59",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
]


def post_raw(api: Api, token: str, text: str) -> Reply:
    return api.call("POST", "exports/", token=token, body=text.encode(), headers=JSON)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_each_hostile_filter_is_400_naming_it(api: Api, token):
    for dataset, text, *words in BAD_FILTERS:
        reply = api.call("GET", f"{dataset}/", token=token, query={"filter": text})
        assert_problem(reply, 400, *words)
        body = f'{{"dataset": "{dataset}", "filters": {{"conditions": {text}}}}}'
        assert_problem(post_raw(api, token, body), 400, *words)
    assert audit_count() == 0


def test_conditions_as_deep_as_documented_are_served(api: Api, token):
    reply = api.call("GET", "user_points/", token=token, query={"filter": nested_not(MAX_DEPTH)})
    assert reply.status == 200, reply.body


def test_each_hostile_shortcut_or_limit_is_400_naming_it(api: Api, token):
    for query, *words in BAD_PARAMETERS:
        assert_problem(api.call("GET", "user_points/", token=token, query=query), 400, *words)
        body = {"dataset": "user_points", "filters": query}
        assert_problem(api.call("POST", "exports/", token=token, json_body=body), 400, *words)
    assert audit_count() == 0


def test_a_history_cursor_with_an_impossible_time_is_400(api: Api, token):
    for text in BAD_CURSOR_TIMES:
        query = {"before": cursor(f"{text}|{uuid.uuid4()}")}
        assert_problem(api.call("GET", "history/", token=token, query=query), 400, "'before'")
    edge = {"before": cursor(f"9998-12-31T23:59:59+00:00|{uuid.uuid4()}")}
    assert api.call("GET", "history/", token=token, query=edge).status == 200


def test_a_history_limit_in_other_digits_is_400(api: Api, token):
    for limit in ["１０", "²", "1_0", "9" * 5000]:
        reply = api.call("GET", "history/", token=token, query={"limit": limit})
        assert_problem(reply, 400, "'limit'")


# -- a seeded generator of hostile values ----------------------------------------------------


def as_parameter(value: Any) -> str | bytes:
    """A value as a query string carries it: text as it is (a lone surrogate as the bytes a
    careless client would send), anything else as its JSON."""
    text = value if isinstance(value, str) and not isinstance(value, Raw) else to_json(value)
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    return text


def hostile_filters(hostile: Hostile, dataset: str) -> dict[str, Any]:
    """One of filter/limit/from/to/game/task hostile (so that no other refusal hides it);
    the rest, when given, careful."""
    careful: dict[str, Any] = {"limit": 10, "from": "2026-01-01", "game": 1}
    filters = {k: v for k, v in careful.items() if hostile.random.random() < 0.3}
    target = hostile.pick(["conditions", "conditions", "limit", "from", "to", "game", "task"])
    if target == "conditions":
        filters["conditions"] = hostile.conditions(sorted(registry.get(dataset).filters))
    elif target == "limit":
        filters["limit"] = hostile.limit()
    else:
        filters[target] = hostile.shortcut(target)
    return {k: v for k, v in filters.items() if v is not None}


def as_query(filters: dict[str, Any]) -> dict[str, Any]:
    query = {k: as_parameter(v) for k, v in filters.items() if k != "conditions"}
    if "conditions" in filters:
        query["filter"] = to_json(filters["conditions"])
        if len(urlencode(query)) > 60_000:  # the test server's request line ends at 64 KiB
            query["filter"] = "{}"
    return query


def as_body(dataset: str, filters: dict[str, Any]) -> str:
    return to_json({"dataset": dataset, "format": "csv", "filters": filters})


def hostile_history(hostile: Hostile) -> dict[str, Any]:
    if hostile.random.random() < 0.5:
        return {"limit": as_parameter(hostile.limit() or 5)}
    return {"before": as_parameter(hostile.cursor())}


@pytest.mark.parametrize("seed", range(2))
def test_hostile_parameters_never_answer_500(api: Api, token, settings, seed):
    """Every reply is checked against the OpenAPI document as well (Api.call): a refusal is
    the documented problem, an answer the documented export."""
    settings.EXPORTS_API_REQUESTS_PER_MINUTE = 100_000
    settings.EXPORTS_MAX_PENDING_PER_USER = 100_000
    hostile = Hostile(seed)
    statuses: Counter[int] = Counter()
    for _ in range(60):
        dataset = hostile.pick(["user_points", "wallet_transactions", "users"])
        query, body = hostile_filters(hostile, dataset), hostile_filters(hostile, dataset)
        replies = [
            api.call("GET", f"{dataset}/", token=token, query=as_query(query)),
            post_raw(api, token, as_body(dataset, body)),
            api.call("GET", "history/", token=token, query=hostile_history(hostile)),
        ]
        for reply in replies:
            assert reply.status < 500, reply.body[:2000]
            statuses[reply.status] += 1
    assert statuses[400] and (statuses[200] or statuses[202]), statuses
