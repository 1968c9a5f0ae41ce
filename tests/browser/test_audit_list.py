"""The audit list reads at 1280 px: dataset titles, not keys, and no sideways scrolling."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from exports.models import Delivery, ExportAudit, ExportStatus
from tests.browser.conftest import log_in, screenshot


def audit_rows() -> None:
    """A realistic mix: long requester names, big files, failures with long reasons."""
    now = timezone.now()
    kinds = [
        ("admin:demo.userpoint", "xlsx", Delivery.BACKGROUND, ExportStatus.COMPLETED, ""),
        ("user_interactions", "json", Delivery.EMAIL, ExportStatus.COMPLETED, ""),
        (
            "admin:demo.wallettransaction",
            "tsvzip",
            Delivery.IMMEDIATE,
            ExportStatus.FAILED,
            "No space left to write the export: [Errno 28] No space left on device",
        ),
        ("wallet_transactions", "sqlite", Delivery.COMMAND, ExportStatus.RUNNING, ""),
    ]
    for i in range(12):
        dataset, fmt, delivery, status, error = kinds[i % len(kinds)]
        ExportAudit.objects.create(
            dataset=dataset,
            format=fmt,
            delivery=delivery,
            status=status,
            error=error,
            requested_by_display=f"a.very.long.staff.username.number{i}@example.com",
            row_count=1_234_567 * i,
            rows_expected=1_234_567 * i,
            bytes=987_654_321 * i,
            queued_at=now - timedelta(hours=i),
            started_at=now - timedelta(hours=i),
            finished_at=now - timedelta(hours=i) + timedelta(seconds=95 * i),
        )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_audit_list_fits_1280_pixels_and_names_datasets_by_title(page: Page, live_server):
    User.objects.create_superuser("boss", "boss@example.com", "pw-boss")
    audit_rows()
    log_in(page, "/admin/exports/exportaudit/", "boss", "pw-boss")
    table = page.locator("#result_list")
    expect(table).to_be_visible()
    expect(table).to_contain_text("User points")
    expect(table).not_to_contain_text("admin:demo.userpoint")
    screenshot(page, "audit-list.png")
    overflow = page.evaluate(
        """() => {
            const table = document.getElementById("result_list");
            const box = table.closest(".results");
            return {table: table.scrollWidth, box: box.clientWidth,
                    page: document.documentElement.scrollWidth,
                    view: document.documentElement.clientWidth};
        }"""
    )
    assert overflow["table"] <= overflow["box"], overflow
    assert overflow["page"] <= overflow["view"], overflow
