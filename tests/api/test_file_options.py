"""The API's file options: the time zone (recorded with every export) and CSV for Excel."""

import csv
import io

import pytest

from exports.delivery.links import without_site_url
from exports.models import ExportAudit
from tests.api.conftest import Api, audit_count

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
PARIS = "Europe/Paris"


def test_a_background_export_records_the_zone_and_the_csv_options(api: Api, token):
    options = {"time_zone": PARIS, "bom": True, "delimiter": "semicolon"}
    body = {"dataset": "users", "format": "csv", "options": options}
    reply = api.call("POST", "exports/", token=token, json_body=body)
    assert reply.status == 202
    assert reply.json()["options"] == without_site_url(ExportAudit.objects.get().options) == options


def test_without_a_zone_the_sites_is_recorded(api: Api, token, settings):
    settings.TIME_ZONE = PARIS
    reply = api.call("POST", "exports/", token=token, json_body={"dataset": "users"})
    assert reply.json()["options"] == {"time_zone": PARIS}


@pytest.mark.parametrize(
    ("fmt", "options", "detail"),
    [
        ("csv", {"time_zone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
        ("csv", {"time_zone": 2}, "'time_zone' must be a string"),
        ("csv", {"delimiter": "pipe"}, "Unknown CSV delimiter 'pipe'"),
        ("csv", {"bom": "yes"}, "'bom' must be true or false"),
        ("json", {"bom": True}, "CSV options"),
        ("xlsx", {"delimiter": "tab"}, "CSV options"),
    ],
)
def test_bad_file_options_are_a_400_that_names_them(api: Api, token, fmt, options, detail):
    body = {"dataset": "users", "format": fmt, "options": options}
    reply = api.call("POST", "exports/", token=token, json_body=body)
    assert reply.status == 400 and detail in reply.json()["detail"]
    assert audit_count() == 0


def test_an_immediate_csv_for_excel_in_the_zone_asked_for(api: Api, token, demo_data):
    query = {"limit": 5, "time_zone": PARIS, "delimiter": "semicolon", "bom": "true"}
    reply = api.call("GET", "user_points/", token=token, query=query)
    assert reply.status == 200, reply.body
    assert reply.body.startswith(b"\xef\xbb\xbfID;User ID;")
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 6 and {r[-1][-6:] for r in rows[1:]} <= {"+01:00", "+02:00"}
    audit = ExportAudit.objects.get(pk=reply.headers["X-Export-Id"])
    assert without_site_url(audit.options) == {
        "time_zone": PARIS,
        "bom": True,
        "delimiter": "semicolon",
    }


def test_an_immediate_export_refuses_a_bom_that_is_not_true_or_false(api: Api, token):
    reply = api.call("GET", "users/", token=token, query={"bom": "yes"})
    assert reply.status == 400 and "'bom' must be true or false" in reply.json()["detail"]
