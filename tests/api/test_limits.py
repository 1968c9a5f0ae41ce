"""Per-user limits that hold on every path (issue 20, finding 5): the API's file downloads count
against the web's download limit, for token and session callers alike; session API calls are
limited per user as token calls are per token; a user holds at most
EXPORTS_MAX_TOKENS_PER_USER active tokens, whether the tokens page or the command makes them."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.models import ApiRequestCounter, ApiToken, DownloadCounter
from tests.api.conftest import Api, create_token
from tests.api.test_exports import session_for
from tests.api.test_security import assert_problem
from tests.conftest import make_user, wait_for
from tests.factories import finished_file

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def a_fresh_minute() -> None:
    """The counters hold one wall-clock minute: start where the whole test fits in one."""
    wait_for(lambda: timezone.now().second < 50, what="a minute with room for the test")


def test_api_downloads_count_against_the_web_download_limit(api: Api, analyst, token, settings):
    settings.EXPORTS_DOWNLOADS_PER_MINUTE = 3
    file = finished_file(analyst)
    path = f"exports/{file.audit_id}/file"
    session = session_for(analyst, api)
    browser = Client()
    browser.force_login(analyst)
    a_fresh_minute()
    assert [browser.get(file.get_absolute_url()).status_code for _ in range(2)] == [200, 200]
    assert api.call("GET", path, token=token).status == 200
    by_token = api.call("GET", path, token=token)
    assert_problem(by_token, 429, "Too many downloads", "at most 3 a minute")
    assert 1 <= int(by_token.headers["Retry-After"]) <= 60
    by_session = api.call("GET", path, headers={"Cookie": session["cookie"]})
    assert_problem(by_session, 429, "Too many downloads")
    assert browser.get(file.get_absolute_url()).status_code == 429
    assert DownloadCounter.objects.get(user=analyst).count == 6


def test_api_requests_for_unknown_or_foreign_files_cost_no_download(api: Api, analyst, token):
    foreign = finished_file(make_user("bob", export=True))
    a_fresh_minute()
    for _ in range(3):
        unknown = api.call("GET", f"exports/{uuid.uuid4()}/file", token=token)
        assert_problem(unknown, 404)
    assert_problem(api.call("GET", f"exports/{foreign.audit_id}/file", token=token), 404)
    mine = finished_file(analyst)
    assert api.call("DELETE", f"exports/{mine.audit_id}/file", token=token).status == 204
    assert not DownloadCounter.objects.exists()


def test_session_api_calls_are_limited_per_user(api: Api, analyst, settings):
    settings.EXPORTS_API_REQUESTS_PER_MINUTE = 2
    first, second = session_for(analyst, api), session_for(analyst, api)
    other = session_for(make_user("bob", export=True), api)
    a_fresh_minute()
    for _ in range(2):
        assert api.call("GET", "datasets/", headers={"Cookie": first["cookie"]}).status == 200
    reply = api.call("GET", "history/", headers={"Cookie": first["cookie"]})
    assert_problem(reply, 429, "Too many requests", "at most 2 a minute")
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    # Per user, not per session: signing in again gives no fresh allowance.
    assert_problem(api.call("GET", "datasets/", headers={"Cookie": second["cookie"]}), 429)
    assert api.call("GET", "datasets/", headers={"Cookie": other["cookie"]}).status == 200
    assert ApiRequestCounter.objects.get(user=analyst).count == 4


def test_a_session_request_refused_by_csrf_costs_nothing(api: Api, analyst, settings):
    settings.EXPORTS_API_REQUESTS_PER_MINUTE = 2
    browser = session_for(analyst, api)
    a_fresh_minute()
    for _ in range(3):  # what a hostile page posting with the user's cookies does
        reply = api.call("POST", "exports/", json_body={}, headers={"Cookie": browser["cookie"]})
        assert_problem(reply, 403, "CSRF")
    assert api.call("GET", "datasets/", headers={"Cookie": browser["cookie"]}).status == 200


def test_the_command_refuses_a_token_beyond_the_cap(analyst, settings):
    settings.EXPORTS_MAX_TOKENS_PER_USER = 2
    create_token("analyst", "one")
    create_token("analyst", "two")
    with pytest.raises(CommandError, match="analyst already has 2 active API tokens"):
        call_command("create_export_token", "analyst", "--label", "three", stdout=io.StringIO())
    assert ApiToken.objects.count() == 2
    ApiToken.objects.filter(label="one").get().revoke()
    create_token("analyst", "three")
    ApiToken.objects.filter(label="two").update(expires_at=timezone.now() - timedelta(seconds=1))
    create_token("analyst", "four")  # revoked and expired tokens do not count
    assert ApiToken.objects.usable().count() == 2


def test_the_tokens_page_refuses_a_token_beyond_the_cap(client, analyst, settings):
    settings.EXPORTS_MAX_TOKENS_PER_USER = 1
    ApiToken.issue(make_user("bob", export=True), "bob's")  # other people's do not count
    client.force_login(analyst)
    new = {"label": "first", "password": "pw-analyst"}
    assert client.post(reverse("exports:api-tokens"), new).status_code == 200
    response = client.post(reverse("exports:api-tokens"), {**new, "label": "second"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "You already have 1 active API token" in page and "Revoke one" in page
    assert list(ApiToken.objects.filter(owner=analyst).values_list("label", flat=True)) == ["first"]
