"""The export action: options page, select-across, permissions, delivery modes, duplicates."""

import csv
import io
import sys
from decimal import Decimal
from uuid import UUID

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from exports.formats import WRITERS
from exports.jobs.runner import run
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus
from project.demo.models import Game, UserPoint, Voucher
from tests.conftest import make_user

CHANGELIST = "admin:demo_userpoint_changelist"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def post_action(client, data, query=""):
    return client.post(reverse(CHANGELIST) + query, {"action": "export_rows", **data})


def confirm(ids=(), query="", select_across=False, **fields):
    data = {"post": "yes", "format": "csv", "delivery": "background", **fields}
    data["columns"] = fields.get(
        "columns",
        ["id", "user_id", "username", "game_id", "game", "task_id", "task", "points", "created"],
    )
    if select_across:
        data["select_across"] = "1"
    data["_selected_action"] = list(ids) or [UserPoint.objects.first().pk]
    return data, query


def test_select_all_carries_the_posted_ids_through_the_options_page(client, staff, demo_data):
    """The admin ignores the ids under select_across but runs no action without any."""
    client.force_login(staff)
    page = post_action(client, {"select_across": "1", "_selected_action": [7, 8]}).content
    assert b'name="_selected_action" value="7"' in page
    assert b'name="_selected_action" value="8"' in page
    assert b'name="select_across" value="1"' in page


def test_the_action_first_shows_an_options_page_in_the_admins_look(client, staff, demo_data):
    client.force_login(staff)
    ids = list(UserPoint.objects.values_list("pk", flat=True)[:3])
    response = post_action(client, {"_selected_action": ids})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Export 3 selected rows" in page
    assert 'id="export-options"' in page and "breadcrumbs" in page
    for fmt in ["csv", "json", "xlsx", "ods", "tsvzip", "sqlite", "sql", "r"]:
        assert f'value="{fmt}"' in page
    assert "Data dictionary" in page or "data_dictionary" in page
    assert page.count('name="columns"') == 9
    assert not ExportAudit.objects.exists(), "nothing is queued before the options are confirmed"


def test_select_across_exports_all_matching_rows_by_their_filter_not_ids(client, staff, demo_data):
    client.force_login(staff)
    game = Game.objects.order_by("pk").first()
    query = f"?game__id__exact={game.pk}"
    expected = UserPoint.objects.filter(game=game).count()
    page = post_action(client, {"select_across": "1", "_selected_action": [1]}, query)
    assert f"Export all {expected} matching rows" in page.content.decode()

    data, _ = confirm(select_across=True)
    response = post_action(client, data, query)
    assert response.status_code == 302
    audit = ExportAudit.objects.get()
    assert audit.dataset == "admin:demo.userpoint"
    assert audit.filters["changelist"] == f"game__id__exact={game.pk}"
    assert audit.filters["request"]["site"] == "admin"
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert audit.row_count == expected


def test_the_message_after_queueing_links_to_my_downloads(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm()
    page = client.post(reverse(CHANGELIST), {"action": "export_rows", **data}, follow=True)
    assert (
        'Export queued. It will appear in <a href="/downloads/">My downloads</a> when it is ready.'
        in page.content.decode()
    )
    data, _ = confirm(format="json", delivery=Delivery.EMAIL)
    page = client.post(reverse(CHANGELIST), {"action": "export_rows", **data}, follow=True)
    assert "You will get an e-mail when it is ready" in page.content.decode()


def test_unticked_columns_are_left_out(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(columns=["id", "points"])
    post_action(client, data)
    audit = ExportAudit.objects.get()
    assert audit.options == {
        "columns": ["id", "points"],
        "time_zone": "UTC",
        "site_url": "http://testserver",
    }
    run(str(audit.pk))
    with DownloadFile.objects.get().open() as handle:
        header = handle.read().decode().splitlines()[0]
    assert header == "ID,Points"


def test_staff_without_the_export_permission_neither_see_nor_run_the_action(client, demo_data):
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_userpoint"))
    client.force_login(viewer)
    assert "export_rows" not in client.get(reverse(CHANGELIST)).content.decode()
    assert post_action(client, {"_selected_action": [1]}).status_code == 403
    data, _ = confirm()
    assert post_action(client, data).status_code == 403
    assert not ExportAudit.objects.exists()


def test_non_staff_cannot_reach_the_admin_action(client, alice, demo_data):
    client.force_login(alice)
    data, _ = confirm()
    response = post_action(client, data)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not ExportAudit.objects.exists()


def test_asking_twice_for_the_same_export_points_to_the_first(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm()
    post_action(client, data)
    response = client.post(reverse(CHANGELIST), {"action": "export_rows", **data}, follow=True)
    assert "The same export is already queued" in response.content.decode()
    assert ExportAudit.objects.count() == 1


def test_a_user_gets_at_most_three_exports_in_flight(client, staff, demo_data, settings):
    client.force_login(staff)
    for fmt in ["csv", "json", "sql"]:
        data, _ = confirm(format=fmt)
        post_action(client, data)
    data, _ = confirm(format="tsvzip")
    response = client.post(reverse(CHANGELIST), {"action": "export_rows", **data}, follow=True)
    assert "You already have 3 exports queued or running" in response.content.decode()
    assert ExportAudit.objects.count() == 3


def test_immediate_delivery_streams_the_file_and_completes_its_audit(client, staff, demo_data):
    client.force_login(staff)
    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:40])
    data, _ = confirm(ids=ids, delivery=Delivery.IMMEDIATE)
    response = post_action(client, data)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="user_points_')
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
    audit = ExportAudit.objects.get()
    body = b"".join(response.streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode())))
    # In the changelist's order: with no ordering of its own, the admin's is newest first.
    assert [int(r[0]) for r in rows[1:]] == sorted(ids, reverse=True)
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    assert (audit.row_count, audit.bytes, audit.rows_expected) == (40, len(body), 40)
    assert not DownloadFile.objects.exists(), "an immediate export leaves no stored file"


def test_an_immediate_download_cut_short_stays_on_record(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(
        ids=UserPoint.objects.values_list("pk", flat=True),
        format="json",
        delivery=Delivery.IMMEDIATE,
    )
    response = post_action(client, data)
    audit = ExportAudit.objects.get()
    assert audit.started_at is not None and audit.status == ExportStatus.RUNNING
    response.close()  # the client goes away before reading a byte
    audit.refresh_from_db()
    assert audit.status in (ExportStatus.RUNNING, ExportStatus.FAILED, ExportStatus.COMPLETED)


def test_immediate_delivery_over_the_cap_is_refused_with_advice(client, staff, demo_data, settings):
    settings.EXPORTS_MAX_ROWS_IMMEDIATE = 10
    client.force_login(staff)
    data, _ = confirm(select_across=True, delivery=Delivery.IMMEDIATE)
    response = client.post(reverse(CHANGELIST), {"action": "export_rows", **data}, follow=True)
    assert "choose background delivery instead" in response.content.decode()
    assert not ExportAudit.objects.exists()


def test_a_missing_optional_library_is_a_clear_503(client, staff, demo_data, monkeypatch):
    # No built-in writer needs an optional library now: xlsx is pointed at one that is missing.
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if it were not installed
    monkeypatch.setitem(WRITERS, "xlsx", ("Excel (XLSX)", "openpyxl.Writer"))
    client.force_login(staff)
    data, _ = confirm(format="xlsx")
    response = post_action(client, data)
    assert response.status_code == 503
    assert "needs the Python package 'openpyxl'" in response.content.decode()
    assert not ExportAudit.objects.exists()


def test_every_demo_changelist_offers_the_export(client, staff, demo_data):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    for model in ["game", "task", "userpoint", "userinteraction", "wallettransaction"]:
        page = client.get(reverse(f"admin:demo_{model}_changelist")).content.decode()
        assert 'value="export_rows"' in page, model
    assert (
        'value="export_rows"' in client.get(reverse("admin:auth_user_changelist")).content.decode()
    )


def test_export_selected_works_on_a_model_with_a_uuid_primary_key(client, staff):
    staff.user_permissions.add(Permission.objects.get(codename="view_voucher"))
    vouchers = [
        Voucher.objects.create(label=f"voucher {i}", value=Decimal("9.99") * i) for i in range(4)
    ]
    chosen = sorted([vouchers[1].pk, vouchers[3].pk])
    client.force_login(staff)
    changelist = reverse("admin:demo_voucher_changelist")
    data = {"action": "export_rows", "_selected_action": [str(pk) for pk in chosen]}
    data.update(post="yes", format="csv", delivery="background")
    data["columns"] = ["code", "label", "value", "created"]
    response = client.post(changelist, data)
    assert response.status_code == 302
    audit = ExportAudit.objects.get()
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    with DownloadFile.objects.get().open() as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode())))
    assert sorted(UUID(row[0]) for row in rows[1:]) == chosen
