"""Hostile input outside the HTTP API (issue 20, finding 7): the Datasets page names the field
it refuses instead of answering 500; the conditions language refuses what no database takes,
with a reason naming the filter, and turns an instant into the site's wall clock when USE_TZ
is False; a seeded generator of hostile values finds no other way to fail a query."""

import json
from datetime import datetime, timedelta

import pytest
from django.db import connections, transaction
from django.db.models import Q
from django.urls import reverse

from exports.api.payloads import build_filters, check_conditions, parse_json
from exports.api.problems import ApiError
from exports.datasets.conditions import LAST_DAY, MAX_DEPTH, ConditionError, to_q
from exports.datasets.registry import registry
from exports.jobs.runner import run
from exports.models import ExportAudit, ExportStatus
from project.demo.models import UserPoint
from tests.api.conftest import create_token
from tests.conftest import make_user
from tests.hostile import Hostile, to_json

pytestmark = pytest.mark.sqlite_lane
# Pages, runs and queries commit as in production; the checks of to_q alone need no database.
database = pytest.mark.django_db(transaction=True, databases="__all__")
PAGE = "admin:exports_datasetexport_changelist"
FIELDS = {"points": "points", "created": "created", "name": "task__name"}


def post_page(client, **fields):
    data = {"dataset": "user_points", "format": "csv", "delivery": "immediate", **fields}
    return client.post(reverse(PAGE), data)


@pytest.mark.parametrize("delivery", ["immediate", "background"])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "limit",
            "99999999999999999999",
            "The row limit must be a whole number from 1 to 5000000.",
        ),
        ("limit", "１０", "The row limit must be a whole number."),
        ("limit", "1_0", "The row limit must be a whole number."),
        ("date_to", "9999-12-31", "Date to must be a day from 1000-01-01 to 9998-12-31."),
        ("date_from", "0001-01-01", "Date from must be a day from 1000-01-01 to 9998-12-31."),
        ("date_from", "٢٠٢٦-٠٦-٠٩", "Enter a valid date."),
    ],
)
@database
def test_the_datasets_page_names_the_field_it_refuses(
    client, staff, delivery, field, value, message
):
    client.force_login(staff)
    response = post_page(client, delivery=delivery, **{field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not ExportAudit.objects.exists()


@database
def test_the_datasets_page_takes_the_largest_limit_and_last_day(client, staff, settings):
    settings.EXPORTS_MAX_ROWS_BACKGROUND = 50
    client.force_login(staff)
    response = post_page(client, limit="50", date_to=str(LAST_DAY), delivery="background")
    assert response.status_code == 302
    assert ExportAudit.objects.get().filters["limit"] == 50
    refused = post_page(client, limit="51", delivery="background")
    assert refused.context["form"].errors["limit"] == [
        "The row limit must be a whole number from 1 to 50."
    ]


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"points": float("inf")}, "Filter 'points': inf is not a finite number"),
        ({"points": {"in": [1, float("nan")]}}, "Filter 'points': nan is not a finite number"),
        ({"name": "a\x00b"}, "Filter 'name': the text holds a NUL character"),
        ({"name": {"like": "\ud800%"}}, "Filter 'name': the text holds a lone surrogate"),
        ({"created": {"ge": "2026-06-09T00:00:00+23:59"}}, "beyond ±14:00"),
        ({"created": "9999-12-31T23:00:00-14:00"}, "times run from 1000-01-01 to the end of"),
        ({"created": "9999-01-02T00:00:00Z"}, "times run from 1000-01-01 to the end of 9998"),
        ({"created": "0001-01-01 00:00+01:00"}, "times run from 1000-01-01 to the end of"),
    ],
)
def test_values_no_database_takes_are_refused_by_name(conditions, message):
    with pytest.raises(ConditionError, match=message.replace("+", r"\+")):
        to_q(conditions, FIELDS)


def test_nesting_is_refused_past_the_documented_depth():
    def nested(depth: int) -> dict:
        value: object = 1
        for _ in range(depth - 1):
            value = {"not": value}
        return {"points": value}

    assert to_q(nested(MAX_DEPTH), FIELDS)  # the outer object counts as the first level
    with pytest.raises(ConditionError, match=f"at most {MAX_DEPTH} levels"):
        to_q(nested(MAX_DEPTH + 1), FIELDS)
    with pytest.raises(ConditionError, match=f"at most {MAX_DEPTH} levels"):
        to_q(json.loads("[" * 900 + "]" * 900), FIELDS)


@pytest.fixture
def new_york_naive(settings):
    """USE_TZ = False in New York, every connection reopened to match (tests/test_naive_time)."""
    settings.TIME_ZONE = "America/New_York"
    settings.USE_TZ = False
    connections.close_all()
    yield
    settings.USE_TZ = True
    connections.close_all()


def test_an_offset_becomes_the_wall_clock_of_a_site_without_time_zones(new_york_naive):
    q = to_q({"created": {"ge": "2026-06-09T18:00:00+02:00"}}, FIELDS)
    assert q == Q(created__gte="2026-06-09T12:00:00")  # 16:00 UTC: noon in New York


@database
def test_an_export_filtered_by_an_instant_runs_without_time_zones(
    client, demo_data, new_york_naive
):
    user = make_user("analyst", export=True)
    noon = datetime(2026, 6, 9, 12, 0)  # New York's wall clock; 16:00 UTC
    template = UserPoint.objects.order_by("pk").first()
    near = [
        UserPoint.objects.create(
            user=template.user, game=template.game, task=template.task, points=p, created=when
        )
        for p, when in [(1, noon - timedelta(seconds=1)), (2, noon), (3, noon)]
    ]
    conditions = {"created": {"ge": "2026-06-09T18:00:00+02:00", "lt": "2026-06-09T16:00:01Z"}}
    body = {"dataset": "user_points", "format": "json", "filters": {"conditions": conditions}}
    headers = {"authorization": f"Bearer {create_token(user.username)}"}
    started = client.post(
        reverse("exports_api:exports"), json.dumps(body), "application/json", headers=headers
    )
    assert started.status_code == 202, started.content
    audit = ExportAudit.objects.get()
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert audit.row_count == 2
    with audit.download.open() as stored:
        assert {row["id"] for row in json.load(stored)} == {near[1].pk, near[2].pk}


# -- a seeded generator of hostile values ----------------------------------------------------


@database
@pytest.mark.parametrize("seed", range(4))
def test_hostile_conditions_are_refused_or_run(seed, demo_data):
    """Whatever the API's checks let through runs: never an error inside the database."""
    hostile = Hostile(seed)
    refused = ran = 0
    for _ in range(150):
        dataset = registry.get(hostile.pick(["user_points", "wallet_transactions", "users"]))
        conditions = hostile.conditions(sorted(dataset.filters))
        shortcuts, limit = hostile.shortcuts(), hostile.limit()
        try:  # as the API reads them: JSON first, then the checks
            conditions, limit = (
                parse_json(to_json(conditions), "filter"),
                parse_json(to_json(limit), "limit"),
            )
            shortcuts = {k: parse_json(to_json(v), k) for k, v in shortcuts.items()}
            filters = build_filters(dataset, conditions, shortcuts, limit, 1000)
        except (ApiError, ConditionError):
            refused += 1
            continue
        with transaction.atomic():
            query = dataset.filtered(filters.get("conditions"), filters.get("limit"))
            query.count()
            list(dataset.rows(filters.get("conditions"), 3))
        ran += 1
    assert refused and ran  # the generator reaches both sides


@database
def test_check_conditions_names_a_number_past_64_bits(demo_data):
    points = registry.get("user_points")
    for value in ["99999999999999999999", 2**64, 1e30]:
        with pytest.raises(ConditionError, match="Filter 'game'"):
            check_conditions(points, {"game": value})
