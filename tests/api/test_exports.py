"""Background exports through the API without a worker: duplicates, limits, cancel, and the
file endpoint's answers while there is no file; session requests and their CSRF check."""

import re
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from django.test import Client

from exports.models import ExportAudit, ExportStatus
from tests.api.conftest import Api, audit_count
from tests.factories import finished_file

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
EXPORT = {"dataset": "users", "format": "json", "filters": {"from": "2026-01-01"}}


def test_the_same_export_twice_is_one_export(api: Api, token):
    first = api.call("POST", "exports/", token=token, json_body=EXPORT)
    second = api.call("POST", "exports/", token=token, json_body=EXPORT)
    assert (first.status, second.status) == (202, 200)
    assert second.json()["id"] == first.json()["id"] and second.json()["duplicate"] is True
    assert audit_count() == 1
    audit = ExportAudit.objects.get()
    assert audit.filters == {"conditions": {"created": {"ge": "2026-01-01T00:00:00+00:00"}}}
    assert audit.requested_by_display.startswith("API token scripts (exd_")


def test_the_pending_limit_answers_409_like_the_web(api: Api, token, settings):
    settings.EXPORTS_MAX_PENDING_PER_USER = 1
    assert api.call("POST", "exports/", token=token, json_body=EXPORT).status == 202
    other = {**EXPORT, "format": "csv"}
    reply = api.call("POST", "exports/", token=token, json_body=other)
    assert reply.status == 409 and "already have 1 export queued" in reply.json()["detail"]
    assert audit_count() == 1


def test_a_queued_export_is_cancelled_once(api: Api, token):
    started = api.call("POST", "exports/", token=token, json_body=EXPORT).json()
    assert started["cancel_url"].endswith(f"/exports/{started['id']}/cancel/")
    assert api.call("GET", f"exports/{started['id']}/file", token=token).status == 409
    reply = api.call("POST", f"exports/{started['id']}/cancel/", token=token)
    assert reply.status == 200 and reply.json()["status"] == "cancelled"
    assert reply.json()["cancel_url"] is None
    assert ExportAudit.objects.get().status == ExportStatus.CANCELLED
    again = api.call("POST", f"exports/{started['id']}/cancel/", token=token)
    assert again.status == 409 and "cancelled" in again.json()["detail"]
    no_file = api.call("GET", f"exports/{started['id']}/file", token=token)
    assert no_file.status == 404 and no_file.json()["code"] == "no_file"


def test_an_expired_file_is_410_and_a_live_one_streams(api: Api, analyst, token):
    live = finished_file(analyst, body=b"id\n1\n")
    old = finished_file(analyst, expires_in=timedelta(seconds=-1))
    reply = api.call("GET", f"exports/{live.audit_id}/file", token=token)
    assert reply.status == 200 and reply.body == b"id\n1\n"
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{live.filename}"'
    assert set(reply.headers["Cache-Control"].split(", ")) == {"private", "no-store"}
    gone = api.call("GET", f"exports/{old.audit_id}/file", token=token)
    assert gone.status == 410 and "expired" in gone.json()["detail"]


def test_a_lifetime_longer_than_the_maximum_is_refused(api: Api, token, settings):
    settings.EXPORTS_FILE_LIFETIME = settings.EXPORTS_MAX_FILE_LIFETIME = 3600
    reply = api.call("POST", "exports/", token=token, json_body={**EXPORT, "lifetime": 7200})
    assert reply.status == 400 and "between 60 and 3600" in reply.json()["detail"]
    ok = api.call("POST", "exports/", token=token, json_body={**EXPORT, "lifetime": 600})
    assert ok.status == 202 and ok.json()["options"] == {"lifetime": 600, "time_zone": "UTC"}


def session_for(user, api: Api) -> dict[str, str]:
    """A logged-in browser's cookies: the session, and the CSRF cookie a page hands out."""
    browser = Client()
    browser.force_login(user)
    session = f"sessionid={browser.cookies['sessionid'].value}"
    page = api.send("GET", "/downloads/tokens/", headers={"Cookie": session})
    assert page.status == 200
    cookies = SimpleCookie()
    for header in page.headers.getlist("Set-Cookie"):
        cookies.load(header)
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    assert form_token
    return {
        "cookie": f"{session}; csrftoken={cookies['csrftoken'].value}",
        "csrf": form_token.group(1).decode(),
    }


def test_a_session_works_and_needs_csrf_on_unsafe_methods(api: Api, analyst):
    browser = session_for(analyst, api)
    listing = api.call("GET", "datasets/", headers={"Cookie": browser["cookie"]})
    assert listing.status == 200 and listing.json()["datasets"]

    refused = api.call("POST", "exports/", json_body=EXPORT, headers={"Cookie": browser["cookie"]})
    assert refused.status == 403 and refused.json()["code"] == "csrf_failed"
    assert audit_count() == 0

    with_csrf = {"Cookie": browser["cookie"], "X-CSRFToken": browser["csrf"]}
    accepted = api.call("POST", "exports/", json_body=EXPORT, headers=with_csrf)
    assert accepted.status == 202
    assert ExportAudit.objects.get().requested_by_display == "analyst"


def test_a_token_request_needs_no_csrf_even_with_a_cookie(api: Api, analyst, token):
    browser = session_for(analyst, api)
    reply = api.call(
        "POST", "exports/", token=token, json_body=EXPORT, headers={"Cookie": browser["cookie"]}
    )
    assert reply.status == 202
    assert ExportAudit.objects.get().requested_by_display.startswith("API token")
