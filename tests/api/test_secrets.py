"""A token's secret lives only with its owner: never in a log line, never in the database
(only its hash, and only in the token table), never in an audit row."""

import json
import logging

import pytest
from django.db import connection
from django.views.debug import SafeExceptionReporterFilter

from exports.models import ApiToken, ExportAudit
from tests.api.conftest import Api, create_token

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def tables_containing(text: str) -> set[str]:
    """Every table of the database whose rows, as text, contain `text`."""
    found = set()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                f"SELECT 1 FROM {quoted} AS t WHERE position(%s in t::text) > 0 LIMIT 1",  # noqa: S608
                [text],
            )
            if cursor.fetchone():
                found.add(table)
    return found


def test_the_secret_stays_out_of_logs_and_the_database(api: Api, analyst, demo_data, caplog):
    token = create_token("analyst", "leak check")
    stored = ApiToken.objects.get()
    caplog.set_level(logging.DEBUG)

    assert api.call("GET", "user_points/", token=token, query={"limit": 5}).status == 200
    body = {"dataset": "users", "format": "csv"}
    assert api.call("POST", "exports/", token=token, json_body=body).status == 202
    assert api.call("GET", "history/", token=token).status == 200
    bad_filter = {"filter": json.dumps({"nope": 1})}
    assert api.call("GET", "user_points/", token=token, query=bad_filter).status == 400
    assert (
        api.call("GET", "exports/00000000-0000-0000-0000-000000000000/", token=token).status == 404
    )
    stored.revoke()
    assert api.call("GET", "datasets/", token=token).status == 401

    with_request = [r for r in caplog.records if getattr(r, "request", None) is not None]
    assert with_request, "django.request logs the 4xx answers above with their request"
    for record in caplog.records:
        assert token not in record.getMessage()
        request = getattr(record, "request", None)
        if request is not None:  # what an error e-mail would show of the request
            meta = SafeExceptionReporterFilter().get_safe_request_meta(request)
            assert token not in str(meta)
    assert tables_containing(token) == set()
    assert tables_containing(token[13:33]) == set()  # a piece of the secret part
    assert tables_containing(stored.hash) == {ApiToken._meta.db_table}
    displays = set(ExportAudit.objects.values_list("requested_by_display", flat=True))
    assert displays == {f"API token leak check (exd_{stored.prefix}…)"}
