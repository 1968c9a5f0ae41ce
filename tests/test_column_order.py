"""Columns in the order a person chose on the export options page: kept in the export's
options, written in that order, and kept by Run again and by a saved export (and its runs).
The rows' up/down buttons work without JavaScript: they post the form to draw it again."""

import pytest
from django.urls import reverse

from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, SavedExport
from exports.scheduling.saved import run_again, run_saved
from tests.test_admin_export import confirm, post_action

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]
DEFAULT = ["id", "user_id", "username", "game_id", "game", "task_id", "task", "points", "created"]
CHOSEN = ["username", "points", "id", "user_id", "game_id", "game", "task_id", "task", "created"]
CHOSEN_HEADER = "Username,Points,ID,User ID,Game ID,Game,Task ID,Task,Created"


def header_of(audit: ExportAudit) -> str:
    run(str(audit.pk))
    with DownloadFile.objects.get(audit=audit).open() as handle:
        return handle.read().decode().splitlines()[0]


def rows_in_page(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('name="column_order" value="')[1:]]


def test_the_columns_are_written_in_the_order_the_rows_stood(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(column_order=CHOSEN)
    post_action(client, data)
    audit = ExportAudit.objects.get()
    assert audit.options["columns"] == CHOSEN
    assert header_of(audit) == CHOSEN_HEADER


def test_unticked_columns_keep_the_order_of_the_others(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(columns=["id", "points", "username"], column_order=CHOSEN)
    post_action(client, data)
    audit = ExportAudit.objects.get()
    assert audit.options["columns"] == ["username", "points", "id"]
    assert header_of(audit) == "Username,Points,ID"


def test_the_default_order_keeps_no_column_list(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(column_order=DEFAULT)
    post_action(client, data)
    assert "columns" not in ExportAudit.objects.get().options


def test_a_move_button_draws_the_page_again_in_the_new_order_without_exporting(
    client, staff, demo_data
):
    client.force_login(staff)
    assert rows_in_page(post_action(client, {"_selected_action": [1]}).content.decode()) == DEFAULT
    data, _ = confirm(column_order=DEFAULT, move_column="up:username")
    page = post_action(client, data)
    assert page.status_code == 200
    moved = ["id", "username", "user_id", *DEFAULT[3:]]
    assert rows_in_page(page.content.decode()) == moved
    assert not ExportAudit.objects.exists()
    data, _ = confirm(column_order=moved, move_column="down:created")  # past the end: stays
    assert rows_in_page(post_action(client, data).content.decode()) == moved
    data, _ = confirm(column_order=moved)
    post_action(client, data)
    assert ExportAudit.objects.get().options["columns"] == moved


def test_run_again_keeps_the_order(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(column_order=CHOSEN)
    post_action(client, data)
    first = ExportAudit.objects.get()
    again = run_again(staff, first).audit
    assert again.pk != first.pk and again.options["columns"] == CHOSEN
    assert header_of(again) == CHOSEN_HEADER


def test_a_saved_export_keeps_the_order(client, staff, demo_data):
    client.force_login(staff)
    data, _ = confirm(select_across=True, column_order=CHOSEN, save_as="Save")
    response = post_action(client, {**data, "save_as_name": "Points, username first"})
    saved = SavedExport.objects.get()
    assert response["Location"] == reverse("admin:exports_savedexport_change", args=[saved.pk])
    assert saved.options["columns"] == CHOSEN
    audit = run_saved(staff, saved).audit
    assert header_of(audit) == CHOSEN_HEADER
