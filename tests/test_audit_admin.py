"""The audit trail in the admin: readable by staff, editable by nobody, no secrets."""

import pytest
from django.urls import reverse

from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import ExportAudit

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def audit(staff, demo_data) -> ExportAudit:
    audit = queue_export(staff, "user_points", "csv", {"conditions": {"game": 1}}).audit
    run(str(audit.pk))
    return ExportAudit.objects.get(pk=audit.pk)


def test_the_list_shows_status_requester_rows_and_has_the_filters(admin_client, audit):
    page = admin_client.get(reverse("admin:exports_exportaudit_changelist")).content.decode()
    for text in ["User points", "staffer", "Completed", str(audit.row_count)]:
        assert text in page
    for filter_name in ["status__exact", "dataset=", "format", "requested_by=", "queued_at"]:
        assert filter_name in page


def test_the_list_names_datasets_and_filters_as_a_person_would(admin_client, staff, audit):
    ExportAudit.objects.create(
        dataset="admin:demo.userpoint", format="csv", requested_by_display="staffer", bytes=2048
    )
    page = admin_client.get(reverse("admin:exports_exportaudit_changelist")).content.decode()
    assert "admin:demo.userpoint" not in page
    assert 'data-filter-title="dataset"' in page and 'data-filter-title="requested by"' in page
    assert "requested by display" not in page.lower()
    assert "2.0\xa0KB" in page or "2.0&nbsp;KB" in page
    filtered = admin_client.get(
        reverse("admin:exports_exportaudit_changelist") + "?dataset=admin:demo.userpoint"
    ).content.decode()
    assert "1 export audit row" in filtered


def test_the_detail_page_shows_filters_as_json_and_no_form_to_save(admin_client, audit):
    url = reverse("admin:exports_exportaudit_change", args=[audit.pk])
    page = admin_client.get(url).content.decode()
    assert "&quot;game&quot;: 1" in page
    assert 'name="_save"' not in page


def test_nobody_can_add_change_or_delete_audit_rows(admin_client, audit):
    change = reverse("admin:exports_exportaudit_change", args=[audit.pk])
    delete = reverse("admin:exports_exportaudit_delete", args=[audit.pk])
    assert admin_client.get(reverse("admin:exports_exportaudit_add")).status_code == 403
    assert admin_client.post(change, {"status": "failed"}).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ExportAudit.objects.get(pk=audit.pk).status == "completed"


def test_search_finds_by_requester(admin_client, audit):
    url = reverse("admin:exports_exportaudit_changelist") + "?q=staffer"
    assert str(audit.pk) in admin_client.get(url).content.decode()
