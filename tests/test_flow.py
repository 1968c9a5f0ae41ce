"""The whole flow: admin action -> real qcluster worker -> My downloads -> file."""

import csv
import io

import pytest
from django.urls import reverse

from exports.formats.base import text_of
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint
from tests.conftest import wait_for

pytestmark = pytest.mark.sqlite_lane

COLUMNS = ["id", "user_id", "username", "game_id", "game", "task_id", "task", "points", "created"]


def expected_rows(ids: list[int]) -> list[list[str]]:
    """The rows of an Export… of `ids` from the demo's changelist, in its order (the admin's
    default when the ModelAdmin has none: newest first)."""
    rows = []
    chosen = UserPoint.objects.filter(pk__in=ids).order_by("-pk")
    for p in chosen.select_related("user", "game", "task"):
        rows.append(
            [
                str(p.pk),
                str(p.user_id),
                p.user.username,
                str(p.game_id),
                p.game.name,
                str(p.task_id),
                p.task.name,
                str(p.points),
                text_of(p.created),
            ]
        )
    return rows


def export_from_changelist(client, ids: list[int]):
    """Export… of `ids` from the demo's changelist, as CSV in the background; the page it
    leads to."""
    response = client.post(
        reverse("admin:demo_userpoint_changelist"),
        {"action": "export_rows", "_selected_action": ids, "post": "yes", "format": "csv",
         "delivery": "background", "columns": COLUMNS},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    return response


def unneutralise(value: str) -> str:
    return value[1:] if value.startswith("'") else value


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_admin_export_reaches_my_downloads_through_the_real_worker(
    client, staff, demo_data, qcluster
):
    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:250])
    client.force_login(staff)
    response = export_from_changelist(client, ids)
    assert "My downloads" in response.content.decode()
    audit = ExportAudit.objects.get()
    assert audit.requested_by == staff
    assert audit.requested_by_display == "staffer"

    wait_for(
        lambda: ExportAudit.objects.get(pk=audit.pk).status == ExportStatus.COMPLETED,
        what="the worker to complete the export",
    )
    audit.refresh_from_db()
    assert audit.row_count == 250
    file = DownloadFile.objects.get(audit=audit)
    assert audit.bytes == file.size > 0

    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert file.filename in page and file.get_absolute_url() in page

    response = client.get(file.get_absolute_url())
    assert response.status_code == 200
    assert response["Cache-Control"] in ("private, no-store", "no-store, private")
    assert 'attachment; filename="user_points_' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "ID",
        "User ID",
        "Username",
        "Game ID",
        "Game",
        "Task ID",
        "Task",
        "Points",
        "Created",
    ]
    got = [[unneutralise(v) for v in row] for row in rows[1:]]
    assert got == expected_rows(ids)
