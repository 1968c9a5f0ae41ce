"""The time zone and the CSV options wherever people pick them: the admin's options page and
Datasets page, and the command line. Each export records its zone, so the worker writes the
zone the requester had."""

import csv
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from exports.admin.forms import ExportOptionsForm
from exports.datasets import registry
from exports.delivery.links import without_site_url
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit
from tests.test_admin_export import confirm, post_action

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
PARIS = "Europe/Paris"
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def in_paris(settings) -> None:
    settings.TIME_ZONE = PARIS


def exported_file() -> bytes:
    audit = ExportAudit.objects.get()
    run(str(audit.pk))
    with DownloadFile.objects.get().open() as handle:
        return handle.read()


def test_the_options_page_offers_the_sites_zone_utc_and_csv_for_excel(
    client, staff, demo_data, in_paris
):
    client.force_login(staff)
    page = post_action(client, {"_selected_action": [1]}).content.decode()
    assert '<option value="Europe/Paris" selected>Europe/Paris (this site&#x27;s time)' in page
    assert '<option value="UTC">UTC</option>' in page
    assert "UTF-8 with BOM (for Excel)" in page
    assert '<option value="semicolon">' in page


def test_a_csv_for_excel_in_utc_is_what_the_worker_writes(client, staff, demo_data, in_paris):
    client.force_login(staff)
    data, _ = confirm(time_zone="UTC", bom="on", delimiter="semicolon")
    assert post_action(client, data).status_code == 302
    audit = ExportAudit.objects.get()
    assert without_site_url(audit.options) == {
        "time_zone": "UTC",
        "bom": True,
        "delimiter": "semicolon",
    }
    content = exported_file()
    assert content.startswith(BOM + b"ID;User ID;Username;")
    assert content.split(b"\r\n")[1].endswith(b"+00:00")


def test_the_sites_zone_is_recorded_and_csv_options_are_ignored_for_other_formats(
    client, staff, demo_data, in_paris
):
    client.force_login(staff)
    data, _ = confirm(format="json", time_zone=PARIS, bom="on", delimiter="tab")
    post_action(client, data)
    assert without_site_url(ExportAudit.objects.get().options) == {"time_zone": PARIS}
    times = {row["created"][-6:] for row in json.loads(exported_file())}
    assert times and times <= {"+01:00", "+02:00"}


def test_a_zone_that_was_not_offered_is_refused(client, staff, demo_data, in_paris):
    client.force_login(staff)
    data, _ = confirm(time_zone="Asia/Tokyo")
    page = post_action(client, data)
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert not ExportAudit.objects.exists()


def test_the_zone_offered_is_the_one_active_for_the_request(in_paris):
    with timezone.override(ZoneInfo("America/New_York")):
        form = ExportOptionsForm(
            {"format": "csv", "delivery": "background", "columns": ["id"]},
            dataset=registry.get("users"),
        )
        assert form.is_valid(), form.errors
        assert form.export_options()["time_zone"] == "America/New_York"
    assert [value for value, _ in form.fields["time_zone"].choices] == ["America/New_York", "UTC"]


def test_the_datasets_page_takes_the_same_options(client, staff, demo_data, in_paris):
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))  # the users dataset
    client.force_login(staff)
    fields = {"dataset": "users", "format": "csv", "delivery": "background"}
    page = client.get(reverse("admin:exports_datasetexport_changelist")).content.decode()
    assert 'name="time_zone"' in page and 'name="bom"' in page and 'name="delimiter"' in page
    client.post(
        reverse("admin:exports_datasetexport_changelist"),
        {**fields, "time_zone": PARIS, "bom": "on", "delimiter": "tab"},
    )
    assert without_site_url(ExportAudit.objects.get().options) == {
        "time_zone": PARIS,
        "bom": True,
        "delimiter": "tab",
    }
    assert exported_file().startswith(BOM + b"User ID\tUsername\t")


def command(*args: str) -> None:
    call_command("export", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_writes_a_csv_for_excel_in_the_zone_asked_for(demo_data, tmp_path: Path):
    target = tmp_path / "points.csv"
    options = ["--timezone", PARIS, "--bom", "--delimiter", "semicolon"]
    command("user_points", "-f", "csv", *options, "-o", str(target))
    rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert target.read_bytes().startswith(BOM)
    assert rows[0][0] == "ID" and len(rows[0]) == len(registry.get("user_points").columns)
    assert {r[-1][-6:] for r in rows[1:]} <= {"+01:00", "+02:00"}
    audit = ExportAudit.objects.get()
    assert audit.options["time_zone"] == PARIS and audit.options["bom"] is True


def test_the_command_records_the_sites_zone_by_default(demo_data, tmp_path: Path, in_paris):
    command("users", "-f", "json", "-o", str(tmp_path / "u.json"))
    assert ExportAudit.objects.get().options["time_zone"] == PARIS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "csv", "--timezone", "Mars/Olympus"], "Unknown time zone 'Mars/Olympus'"),
        (["-f", "xlsx", "--bom"], "CSV options"),
        (["-f", "json", "--delimiter", "tab"], "CSV options"),
    ],
)
def test_the_command_refuses_bad_options_before_recording_anything(
    demo_data, tmp_path: Path, args, message
):
    with pytest.raises(CommandError, match=message):
        command("users", *args, "-o", str(tmp_path / "out"))
    assert not ExportAudit.objects.exists()
