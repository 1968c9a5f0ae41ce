"""The admin's Datasets page: seed 000's four datasets with their filters."""

import pytest
from django.urls import reverse

from exports.models import ExportAudit
from project.demo.models import Game
from tests.conftest import make_user

PAGE = "admin:exports_datasetexport_changelist"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_it_lists_the_four_datasets_to_a_superuser(admin_client):
    page = admin_client.get(reverse(PAGE)).content.decode()
    for title in ["Users", "User points", "User interactions", "Wallet transactions"]:
        assert title in page
    assert 'name="date_from"' in page and 'name="game"' in page and 'name="limit"' in page


def test_it_queues_an_export_with_date_range_game_and_limit(client, staff, demo_data):
    client.force_login(staff)
    game = Game.objects.order_by("pk").first()
    response = client.post(
        reverse(PAGE),
        {
            "dataset": "user_points",
            "date_from": "2026-02-01",
            "date_to": "2026-03-31",
            "game": str(game.pk),
            "task": "",
            "limit": "50",
            "format": "json",
            "delivery": "background",
        },
        follow=True,
    )
    assert "Export queued" in response.content.decode()
    audit = ExportAudit.objects.get()
    assert (audit.dataset, audit.format) == ("user_points", "json")
    assert audit.filters == {
        "conditions": {
            "created": {"ge": "2026-02-01T00:00:00+00:00", "lt": "2026-04-01T00:00:00+00:00"},
            "game": game.pk,
        },
        "limit": 50,
    }


def test_a_filter_the_dataset_does_not_have_is_named_in_the_error(admin_client, demo_data):
    game = Game.objects.first()
    response = admin_client.post(
        reverse(PAGE),
        {
            "dataset": "users",
            "game": str(game.pk),
            "format": "csv",
            "delivery": "background",
        },
    )
    assert response.status_code == 200
    assert "Users cannot be filtered by game." in response.content.decode()
    assert not ExportAudit.objects.exists()


def test_staff_without_the_export_permission_get_403(client, db):
    client.force_login(make_user("viewer", staff=True))
    assert client.get(reverse(PAGE)).status_code == 403
    assert client.post(reverse(PAGE), {"dataset": "users", "format": "csv"}).status_code == 403
