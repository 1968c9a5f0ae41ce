"""The HTTP API under test: a live server, a real HTTP client (http.client), and every reply
checked against the OpenAPI document the server itself publishes (openapi-core)."""

import http.client
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from exports.models import ExportAudit
from tests.conftest import make_user

PREFIX = "/api/v1/exports/"


@dataclass
class Reply:
    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class SentRequest:
    """openapi-core's Request protocol, for the request we sent."""

    host_url: str
    path: str
    method: str
    content_type: str
    body: bytes | None
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class ReceivedResponse:
    """openapi-core's Response protocol, for the reply we got."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes


class Api:
    """Calls the live server's API over a socket; validates every reply against the spec."""

    def __init__(self, host_url: str) -> None:
        self.host_url = host_url
        self.spec: dict[str, Any] | None = None
        self.openapi: OpenAPI | None = None
        self.replies: list[Reply] = []

    def load_spec(self) -> dict[str, Any]:
        reply = self.send("GET", "openapi.json")
        assert reply.status == 200, reply.body
        self.spec = reply.json()
        # openapi-core knows application/json; problem details are JSON too (RFC 9457).
        config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
        self.openapi = OpenAPI.from_dict(self.spec, config=config)
        self.check(SentRequest(self.host_url, PREFIX + "openapi.json", "get", "", None), reply)
        return self.spec

    def send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: dict[str, Any] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        # Relative paths are the API's; an absolute path is any page of the site.
        target = (path if path.startswith("/") else PREFIX + path) + (
            f"?{urlencode(query)}" if query else ""
        )
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        parts = urlsplit(self.host_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        try:
            connection.request(method, target, body=body, headers=sent_headers)
            response = connection.getresponse()
            reply = Reply(response.status, Headers(list(response.getheaders())), response.read())
        finally:
            connection.close()
        self.replies.append(reply)
        return reply

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        """send(), then the reply must match the OpenAPI document."""
        if self.openapi is None:
            self.load_spec()
        reply = self.send(method, path, **kwargs)
        query = kwargs.get("query") or {}
        sent = SentRequest(
            self.host_url,
            PREFIX + path,
            method.lower(),
            (kwargs.get("headers") or {}).get("Content-Type", ""),
            kwargs.get("body"),
            RequestParameters(query=ImmutableMultiDict(list(query.items()))),
        )
        self.check(sent, reply)
        return reply

    def check(self, sent: SentRequest, reply: Reply) -> None:
        assert self.openapi is not None
        received = ReceivedResponse(reply.status, reply.content_type, reply.headers, reply.body)
        self.openapi.validate_response(sent, received)


@pytest.fixture
def api(live_server) -> Iterator[Api]:
    client = Api(live_server.url)
    client.load_spec()
    yield client


@pytest.fixture
def analyst(db):
    """A user allowed to export every declared dataset (users and wallets need view_user)."""
    user = make_user("analyst", export=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_user", "view_userinteraction", "view_wallettransaction"]
        )
    )
    return user


@pytest.fixture
def token(analyst) -> str:
    return create_token("analyst")


def create_token(username: str, label: str = "scripts", *extra: str) -> str:
    """The way an admin makes one: the command prints the token, alone, once."""
    out, err = io.StringIO(), io.StringIO()
    call_command("create_export_token", username, "--label", label, *extra, stdout=out, stderr=err)
    assert "only time" in err.getvalue()
    return out.getvalue().strip()


def audit_count() -> int:
    return ExportAudit.objects.count()
