"""Every refusal over real HTTP: its documented status as problem+json, and nothing written
(no audit row, no file) by a request that was refused."""

import http.client
import json
import sys
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from exports.formats import WRITERS
from exports.models import ApiToken, DownloadFile, ExportAudit
from tests.api.conftest import PREFIX, Api, audit_count, create_token
from tests.conftest import make_user, wait_for
from tests.factories import finished_file

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
EXPORT = {"dataset": "user_points", "format": "csv"}


def assert_problem(reply, status: int, *words: str) -> dict:
    assert reply.status == status, reply.body
    assert reply.content_type == "application/problem+json"
    body = reply.json()
    assert body["status"] == status and body["title"] and body["detail"]
    for word in words:
        assert word in body["detail"]
    assert "Traceback" not in body["detail"]
    return body


def test_no_token_is_401_with_a_bearer_challenge(api: Api, analyst):
    before = audit_count()
    reply = api.call("GET", "datasets/")
    assert_problem(reply, 401, "Bearer")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(api.call("POST", "exports/", json_body=EXPORT), 401)
    assert_problem(api.call("GET", "user_points/"), 401)
    assert audit_count() == before


@pytest.mark.parametrize(
    "header",
    ["Bearer exd_00000000_" + "A" * 43, "Bearer not-a-token", "Basic YWxpY2U6cHc=", "Bearer "],
)
def test_an_unknown_or_malformed_credential_is_401(api: Api, token, header):
    reply = api.call("GET", "datasets/", headers={"Authorization": header})
    assert_problem(reply, 401)
    assert 'error="invalid' in reply.headers["WWW-Authenticate"]


def test_a_token_with_a_wrong_secret_is_401(api: Api, token):
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_problem(api.call("GET", "datasets/", token=forged), 401, "not valid")


def test_a_revoked_token_is_401(api: Api, token):
    before = audit_count()
    ApiToken.objects.get().revoke()
    reply = api.call("GET", "user_points/", token=token)
    assert_problem(reply, 401, "revoked")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert audit_count() == before


def test_an_expired_token_is_401(api: Api, analyst):
    token = create_token("analyst", "short", "--expires-days", "1")
    stored = ApiToken.objects.get()
    assert timedelta(hours=23) < stored.expires_at - timezone.now() <= timedelta(days=1)
    assert api.call("GET", "datasets/", token=token).status == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_problem(api.call("GET", "datasets/", token=token), 401, "expired")


def test_an_inactive_users_token_is_401(api: Api, analyst, token):
    analyst.is_active = False
    analyst.save()
    before = audit_count()
    assert_problem(api.call("POST", "exports/", token=token, json_body=EXPORT), 401, "inactive")
    assert audit_count() == before


def test_another_users_export_is_404_exactly_like_an_unknown_id(api: Api, analyst, token):
    other = make_user("other", export=True)
    theirs = finished_file(other)
    unknown = "00000000-0000-0000-0000-000000000000"
    for suffix, method in [
        ("/", "GET"),
        ("/file", "GET"),
        ("/file", "DELETE"),
        ("/cancel/", "POST"),
    ]:
        foreign = api.call(method, f"exports/{theirs.audit_id}{suffix}", token=token)
        missing = api.call(method, f"exports/{unknown}{suffix}", token=token)
        assert_problem(foreign, 404)
        assert foreign.json().keys() == missing.json().keys()
        assert {k: v for k, v in foreign.json().items() if k != "instance"} == {
            k: v for k, v in missing.json().items() if k != "instance"
        }
    assert DownloadFile.objects.filter(pk=theirs.pk).exists()
    assert str(theirs.audit_id) not in api.call("GET", "history/", token=token).body.decode()


@pytest.mark.parametrize(
    ("dataset", "conditions", "named"),
    [
        ("user_points", {"user__password": "x"}, "user__password"),
        ("users", {"email": {"like": "%@example.com"}}, "email"),
        ("user_points", {"points": {"gt": "many"}}, "points"),
        ("user_points", {"points": {"between": [1, 2]}}, "between"),
    ],
)
def test_a_filter_outside_the_allow_list_is_400_naming_it(
    api: Api, token, dataset, conditions, named
):
    before = audit_count()
    query = {"filter": json.dumps(conditions)}
    assert_problem(api.call("GET", f"{dataset}/", token=token, query=query), 400, named)
    body = {"dataset": dataset, "filters": {"conditions": conditions}}
    assert_problem(api.call("POST", "exports/", token=token, json_body=body), 400, named)
    assert audit_count() == before


def test_shortcuts_only_where_the_dataset_has_them(api: Api, token):
    reply = api.call("GET", "users/", token=token, query={"game": 1})
    assert_problem(reply, 400, "'game'")
    reply = api.call("GET", "user_points/", token=token, query={"from": "yesterday"})
    assert_problem(reply, 400, "'from'")
    reply = api.call("GET", "user_points/", token=token, query={"fromm": "2026-01-01"})
    assert_problem(reply, 400, "'fromm'")
    assert audit_count() == 0


def test_a_dataset_the_user_may_not_export_is_403(api: Api, db):
    make_user("viewer")  # no export permission
    token = create_token("viewer")
    assert api.call("GET", "datasets/", token=token).json() == {"datasets": []}
    assert_problem(api.call("GET", "users/", token=token), 403)
    assert_problem(api.call("POST", "exports/", token=token, json_body=EXPORT), 403)
    assert audit_count() == 0


def test_changelist_sources_and_unknown_datasets_are_not_served(api: Api, token):
    assert_problem(api.call("GET", "admin:demo.userpoint/", token=token), 404, "Unknown dataset")
    body = {"dataset": "admin:demo.userpoint"}
    assert_problem(api.call("POST", "exports/", token=token, json_body=body), 400)
    assert_problem(api.call("GET", "nope/", token=token), 404)
    assert audit_count() == 0


def test_a_10_mb_body_is_413(api: Api, token):
    body = json.dumps({**EXPORT, "pad": "x" * (10 * 1024 * 1024)}).encode()
    reply = api.call(
        "POST", "exports/", token=token, body=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(reply, 413, "at most")
    assert audit_count() == 0


def test_a_large_body_is_refused_before_it_is_sent(live_server, token):
    """The answer comes back while the client still holds the 10 MB it announced."""
    parts = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("POST", PREFIX + "exports/")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(10 * 1024 * 1024))
        connection.endheaders()
        reply = connection.getresponse()
        assert reply.status == 413
        assert json.loads(reply.read())["code"] == "too_large"
    finally:
        connection.close()
    assert audit_count() == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"dataset": "users", ', 400, "bad_json"),
        (b"[1, 2]", 400, "bad_request"),
        (b'{"dataset": "users", "format": "pdf"}', 400, "unknown_format"),
        (b'{"dataset": "users", "colour": "red"}', 400, "bad_request"),
        (b'{"dataset": "users", "filters": {"limit": 0}}', 400, "bad_request"),
        (b'{"dataset": "users", "delivery": "immediate"}', 400, "bad_request"),
    ],
)
def test_a_malformed_body_is_400(api: Api, token, body, status, code):
    headers = {"Content-Type": "application/json"}
    reply = api.call("POST", "exports/", token=token, body=body, headers=headers)
    assert assert_problem(reply, status)["code"] == code
    assert audit_count() == 0


def test_a_body_that_is_not_json_is_415(api: Api, token):
    headers = {"Content-Type": "text/plain"}
    reply = api.call("POST", "exports/", token=token, body=b"dataset=users", headers=headers)
    assert_problem(reply, 415, "JSON")
    assert audit_count() == 0


def test_a_missing_format_library_is_503_not_500(api: Api, token, monkeypatch):
    # The XLSX writer needs no library of its own: point it at one that is not installed.
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    monkeypatch.setitem(WRITERS, "xlsx", ("Excel (XLSX)", "openpyxl.Writer"))
    reply = api.call("GET", "user_points/", token=token, query={"format": "xlsx"})
    assert_problem(reply, 503, "openpyxl")
    body = {**EXPORT, "format": "xlsx"}
    assert_problem(api.call("POST", "exports/", token=token, json_body=body), 503, "openpyxl")
    assert audit_count() == 0


def test_more_rows_than_an_immediate_download_holds_is_422(api: Api, token, settings, demo_data):
    settings.EXPORTS_MAX_ROWS_IMMEDIATE = 10
    assert_problem(api.call("GET", "user_points/", token=token), 422, "background")
    assert_problem(api.call("GET", "user_points/", token=token, query={"limit": 11}), 400)
    assert api.call("GET", "user_points/", token=token, query={"limit": 10}).status == 200
    assert ExportAudit.objects.count() == 1


def test_requests_over_the_per_token_rate_are_429_with_retry_after(api: Api, token, settings):
    settings.EXPORTS_API_REQUESTS_PER_MINUTE = 2
    wait_for(lambda: timezone.now().second < 55, what="a minute with room for three requests")
    assert api.call("GET", "datasets/", token=token).status == 200
    assert api.call("GET", "datasets/", token=token).status == 200
    reply = api.call("GET", "user_points/", token=token)
    assert_problem(reply, 429, "Too many requests")
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert audit_count() == 0
    other = create_token("analyst", "another")  # the limit is per token
    assert api.call("GET", "datasets/", token=other).status == 200
