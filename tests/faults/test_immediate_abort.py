"""An immediate download over a real HTTP server and client: a failed export is never a
200 that looks like a whole file, and a whole file says its length, so a download cut short
is visibly incomplete to the browser."""

import http.client
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from exports.formats.sql import SqlWriter
from exports.models import ExportAudit, ExportStatus
from project.demo.seed import top_up
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
COLUMNS = ["id", "user_id", "username", "game_id", "game", "task_id", "task", "points", "created"]
# The CSRF secret itself is a valid token (Django unmasks 64-character tokens, compares 32).
CSRF = "x" * 32


class Browserish:
    """http.client with the session and CSRF cookies a logged-in browser would send."""

    def __init__(self, live_server, client, user) -> None:
        client.force_login(user)
        self.url = urlsplit(live_server.url)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.cookies = {settings.SESSION_COOKIE_NAME: session, "csrftoken": CSRF}

    def request(self, method: str, path: str, body: str = "") -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            self.cookies.update({k: m.value for k, m in SimpleCookie(header).items()})
        return response

    def export_immediately(self, fmt: str) -> http.client.HTTPResponse:
        form = {
            "action": "export_rows",
            "select_across": "1",
            "_selected_action": "1",
            "post": "yes",
            "format": fmt,
            "delivery": "immediate",
            "columns": COLUMNS,
            "csrfmiddlewaretoken": CSRF,
        }
        path = reverse("admin:demo_userpoint_changelist")
        return self.request("POST", path, urlencode(form, doseq=True))


@pytest.fixture
def web(live_server, client, staff) -> Iterator[Browserish]:
    top_up(5_000)
    yield Browserish(live_server, client, staff)


@pytest.fixture
def writer_fails_midway(monkeypatch) -> str:
    """The writer produces a few thousand rows, then the disk under it fails."""
    message = "Input/output error while writing the export"
    original = SqlWriter.write_table

    def write_table(self, table, rows):
        def some_then_fail():
            for n, row in enumerate(rows):
                if n == 3_000:
                    raise OSError(5, message)
                yield row

        return original(self, table, some_then_fail())

    monkeypatch.setattr(SqlWriter, "write_table", write_table)
    return message


def test_a_failed_immediate_export_is_not_answered_as_a_file(web, writer_fails_midway):
    response = web.export_immediately("sql")
    body = response.read()
    assert response.status != 200, f"a truncated file of {len(body)} bytes looked complete"
    assert response.getheader("Content-Disposition") is None
    assert response.status == 302
    audit = ExportAudit.objects.get()
    assert audit.status == ExportStatus.FAILED
    assert writer_fails_midway in audit.error
    page = web.request("GET", response.getheader("Location")).read().decode()
    assert "The export failed" in page and writer_fails_midway in page


def test_a_whole_immediate_download_declares_its_length(web):
    response = web.export_immediately("sql")
    body = response.read()
    assert response.status == 200
    assert response.getheader("Content-Disposition").startswith("attachment;")
    assert int(response.getheader("Content-Length")) == len(body)
    # The server finishes the audit row when it closes the response, just after the last
    # byte has gone: the client may get there first.
    audit = wait_for(
        lambda: ExportAudit.objects.exclude(status=ExportStatus.RUNNING).first(),
        timeout=30,
        what="the audit row to be finished after the last byte",
    )
    assert (audit.status, audit.row_count, audit.bytes) == (
        ExportStatus.COMPLETED,
        5_000,
        len(body),
    )


def test_a_full_disk_under_the_download_fails_it_saying_so(web, settings, tiny_disk):
    settings.EXPORTS_TMP_DIR = str(tiny_disk)
    top_up(25_000)  # about 3 MB of SQL on a 1 MiB disk
    response = web.export_immediately("sql")
    response.read()
    assert response.status == 302
    audit = ExportAudit.objects.get()
    assert audit.status == ExportStatus.FAILED
    assert "no space" in audit.error.lower()
    assert list(tiny_disk.iterdir()) == []
