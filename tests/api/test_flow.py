"""The API end to end over real HTTP: a token from the command, datasets, an immediate CSV
byte for byte like `manage.py export`, a background XLSX through the real worker, history."""

import io
import json
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command

from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import Game, UserPoint
from tests.api.conftest import Api, audit_count, create_token
from tests.conftest import make_user, wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def data(demo_data) -> None:
    """Every test here reads the demo's rows."""


def test_a_token_from_the_command_lists_the_datasets_it_may_export(api: Api, analyst):
    token = create_token("analyst", "notebook")
    reply = api.call("GET", "datasets/", token=token)
    assert reply.status == 200
    datasets = {d["name"]: d for d in reply.json()["datasets"]}
    assert set(datasets) == {"users", "user_points", "user_interactions", "wallet_transactions"}
    points = datasets["user_points"]
    assert [c["name"] for c in points["columns"]][:3] == ["id", "user_id", "username"]
    assert {"created", "game", "task", "points"} <= {f["name"] for f in points["filters"]}
    assert "like" in points["filters"][0]["operators"]
    assert points["shortcuts"] == ["from", "to", "game", "task"]
    assert datasets["users"]["shortcuts"] == ["from", "to"]
    assert {"csv", "xlsx", "json"} <= {f["name"] for f in points["formats"]}


def test_a_streamed_csv_matches_manage_py_export_byte_for_byte(api: Api, analyst, tmp_path):
    token = create_token("analyst", "bi tool")
    game = Game.objects.order_by("pk").first()
    conditions = {"points": {"ge": 20}}
    before = audit_count()
    reply = api.call(
        "GET",
        "user_points/",
        token=token,
        query={"format": "csv", "filter": json.dumps(conditions), "game": game.pk},
    )
    assert reply.status == 200, reply.body
    assert reply.content_type.startswith("text/csv")
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="user_points_')

    expected = tmp_path / "expected.csv"
    merged = json.dumps({**conditions, "game": game.pk})
    call_command("export", "user_points", "--format", "csv", "--filter", merged, "-o", expected)
    assert reply.body == Path(expected).read_bytes()
    rows = UserPoint.objects.filter(points__gte=20, game=game).count()
    assert 0 < rows < UserPoint.objects.count()
    assert reply.body.count(b"\n") >= rows + 1

    audit = ExportAudit.objects.get(pk=reply.headers["X-Export-Id"])
    assert audit_count() == before + 2  # the API's row, and the command's own
    assert audit.requested_by.username == "analyst"
    assert audit.requested_by_display.startswith("API token bi tool (exd_")
    assert audit.status == ExportStatus.COMPLETED and audit.row_count == rows
    assert audit.filters == {"conditions": {**conditions, "game": game.pk}}


def test_a_background_xlsx_is_polled_downloaded_and_deleted(api: Api, analyst, qcluster):
    token = create_token("analyst", "nightly")
    matching = UserPoint.objects.filter(points__lt=50).count()
    assert matching > 20
    body = {
        "dataset": "user_points",
        "format": "xlsx",
        "filters": {"conditions": {"points": {"lt": 50}}, "limit": matching - 10},
        "options": {"data_dictionary": True},
        "lifetime": 600,
    }
    reply = api.call("POST", "exports/", token=token, json_body=body)
    assert reply.status == 202, reply.body
    started = reply.json()
    assert started["status"] == "queued" and started["duplicate"] is False
    assert reply.headers["Location"] == started["url"]
    status_path = started["url"].split("/api/v1/exports/", 1)[1]

    again = api.call("POST", "exports/", token=token, json_body=body)
    assert again.status in (200, 202)
    if again.json()["status"] in ("queued", "running"):  # still pending: the same export
        assert again.status == 200 and again.json()["id"] == started["id"]

    def completed():
        current = api.call("GET", status_path, token=token).json()
        assert current["status"] not in ("failed", "cancelled"), current["error"]
        return current if current["status"] == "completed" else None

    done = wait_for(completed, what="the worker to finish the XLSX export")
    assert done["rows_written"] == matching - 10 and done["file"]["content_type"] == XLSX
    stored = DownloadFile.objects.get(audit_id=done["id"])
    assert stored.expires_at - stored.created_at == timedelta(seconds=600)

    file_path = done["file"]["url"].split("/api/v1/exports/", 1)[1]
    download = api.call("GET", file_path, token=token)
    assert download.status == 200
    assert download.content_type == XLSX
    book = openpyxl.load_workbook(io.BytesIO(download.body), read_only=True)
    assert book.sheetnames == ["user_points", "data_dictionary"]
    assert len(list(book["user_points"].iter_rows())) == 1 + matching - 10

    assert api.call("DELETE", file_path, token=token).status == 204
    assert not DownloadFile.objects.filter(audit_id=done["id"]).exists()
    gone = api.call("GET", file_path, token=token)
    assert gone.status == 410 and gone.content_type == "application/problem+json"
    assert api.call("GET", status_path, token=token).json()["file"] is None


def test_the_history_is_read_page_by_page_newest_first(api: Api, analyst):
    token = create_token("analyst", "history")
    other = make_user("other", export=True)
    for n in range(5):
        reply = api.call("GET", "users/", token=token, query={"limit": n + 1})
        assert reply.status == 200
    ExportAudit.objects.create(
        dataset="users", format="csv", requested_by=other, requested_by_display="other"
    )
    pages, query = [], {"limit": 2}
    while True:
        page = api.call("GET", "history/", token=token, query=query)
        assert page.status == 200
        pages.append(page.json())
        if page.json()["next"] is None:
            break
        query = {"limit": 2, "before": page.json()["next"]}
    assert [len(p["results"]) for p in pages] == [2, 2, 1]
    seen = [row["id"] for p in pages for row in p["results"]]
    mine = ExportAudit.objects.filter(requested_by=analyst).order_by("-queued_at", "-pk")
    assert seen == [str(pk) for pk in mine.values_list("pk", flat=True)]
    assert [r["filters"] for r in pages[0]["results"]] == [{"limit": 5}, {"limit": 4}]
    first = pages[0]["results"][0]
    assert first["requested_by"].startswith("API token history (exd_")
    assert not {"requested_by_id", "attempts", "heartbeat_at", "reserved_bytes"} & set(first)
    assert token not in json.dumps(pages)
