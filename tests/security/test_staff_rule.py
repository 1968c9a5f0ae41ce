"""Who may export: the admin's rule (an active staff user with exports.export_data, plus the
dataset's permissions) holds at every entry, checked again when the work runs; a host widens it
only by naming its own rule in EXPORTS_MAY_EXPORT (issue 20, finding 1)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from exports.datasets.access import may_export
from exports.models import ApiToken, ExportAudit, ExportStatus, RunStatus
from exports.scheduling.due import run_due
from exports.scheduling.saved import run_again, run_saved
from tests.conftest import make_user
from tests.schedules import saved_export, schedule_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
REFUSED = "You do not have permission to export data."


def everyone(user) -> bool:
    """A host's deliberate widening: anyone active with the permission, staff or not."""
    return user.has_perm("exports.export_data")


@pytest.fixture
def outsider(db):
    """Holds exports.export_data and view_userpoint, but is not staff."""
    return make_user("outsider", staff=False, export=True)


def test_the_rule_needs_staff_activity_and_the_permission(outsider, staff):
    assert may_export(staff) and not may_export(outsider)
    staff.is_active = False
    assert not may_export(staff)


def test_a_user_who_is_not_staff_cannot_mint_a_token(client, outsider):
    client.force_login(outsider)
    response = client.post(reverse("exports:api-tokens"), {"label": "mine"})
    assert response.status_code == 403 and response.content.decode() == REFUSED
    assert not ApiToken.objects.exists()
    assert client.get(reverse("exports:api-tokens")).status_code == 200, "may still revoke"


@pytest.mark.parametrize("by", ["token", "session"])
def test_the_api_refuses_a_user_who_is_not_staff(client, outsider, by):
    url = "/api/v1/exports/user_points/?limit=3"
    if by == "token":
        _, secret = ApiToken.issue(outsider, "stolen", None)
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")
    else:
        client.force_login(outsider)
        response = client.get(url)
    assert response.status_code == 403, response.content[:200]
    assert not ExportAudit.objects.filter(status=ExportStatus.COMPLETED).exists()


def test_the_same_api_call_works_once_the_host_widens_the_rule(client, outsider, settings):
    settings.EXPORTS_MAY_EXPORT = "tests.security.test_staff_rule.everyone"
    _, secret = ApiToken.issue(outsider, "scripts", None)
    response = client.get(
        "/api/v1/exports/user_points/?limit=3", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 200, response.content[:200]


def test_run_again_and_saved_runs_refuse_a_user_who_lost_staff(staff, demo_data):
    saved = saved_export(staff)
    first = run_saved(staff, saved).audit
    staff.is_staff = False
    staff.save()
    with pytest.raises(PermissionDenied) as refused:
        run_again(staff, first)
    assert str(refused.value) == REFUSED
    with pytest.raises(PermissionDenied, match=REFUSED):
        run_saved(staff, saved)


def test_a_schedule_whose_owner_lost_staff_fails_its_run_and_pauses(staff, demo_data):
    schedule = schedule_for(saved_export(staff))
    staff.is_staff = False
    staff.save()
    [done] = run_due()
    assert done.status == RunStatus.FAILED
    assert done.message == "staffer may no longer export User points."
    schedule.refresh_from_db()
    assert schedule.paused
    assert not ExportAudit.objects.exists()
