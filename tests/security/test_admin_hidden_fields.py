"""A changelist export carries only the fields the ModelAdmin shows that user: its change form
(fields, fieldsets, exclude, get_fields(request), readonly fields) and its changelist
columns, plus the primary key."""

import pytest
from django.contrib import admin
from django.urls import reverse

from exports.datasets.changelist import changelist_dataset
from project.demo.models import UserPoint
from tests.conftest import make_user

NAME = "admin:demo.userpoint"
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def point_admin(monkeypatch):
    """The demo's UserPointAdmin with its default columns and a narrow changelist."""
    model_admin = admin.site._registry[UserPoint]
    monkeypatch.setattr(model_admin, "export_dataset", "")
    monkeypatch.setattr(model_admin, "list_display", ["id", "user"])
    return model_admin


def columns(user, name: str = NAME) -> list[str]:
    return [c.name for c in changelist_dataset(name, user, "").columns]


@pytest.fixture
def root(db):
    user = make_user("root", staff=True)
    user.is_superuser = True
    user.save()
    return user


def test_an_excluded_field_is_not_exported(staff, point_admin, monkeypatch):
    assert "points" in columns(staff)
    monkeypatch.setattr(point_admin, "exclude", ["points"])
    assert columns(staff) == ["id", "user_id", "game_id", "task_id", "created"]


def test_only_the_declared_fields_and_shown_readonly_fields_are_exported(
    staff, point_admin, monkeypatch
):
    monkeypatch.setattr(point_admin, "fields", ["user", "points"])
    monkeypatch.setattr(point_admin, "readonly_fields", ["points"])
    assert columns(staff) == ["id", "user_id", "points"]


def test_get_fields_decides_per_user(staff, root, point_admin, monkeypatch):
    def get_fields(request, obj=None):
        return ["user", "game", "task", "points", "created"] if request.user.is_superuser else []

    monkeypatch.setattr(point_admin, "get_fields", get_fields)
    assert columns(staff) == ["id", "user_id"], "the changelist still shows id and user"
    assert columns(root) == ["id", "user_id", "game_id", "task_id", "points", "created"]


def test_a_declared_export_column_the_admin_hides_is_dropped_for_that_user(
    staff, root, point_admin, monkeypatch
):
    monkeypatch.setattr(point_admin, "export_columns", ["id", "user__username", "points"])
    monkeypatch.setattr(
        point_admin,
        "get_exclude",
        lambda request, obj=None: [] if request.user.is_superuser else ["points"],
    )
    assert columns(staff) == ["id", "user__username"]
    assert columns(root) == ["id", "user__username", "points"]


def test_a_declared_datasets_columns_follow_the_admin_too(staff, monkeypatch):
    model_admin = admin.site._registry[UserPoint]
    monkeypatch.setattr(model_admin, "list_display", ["id", "user", "game"])
    monkeypatch.setattr(model_admin, "exclude", ["task", "points"])
    assert columns(staff) == ["id", "user_id", "username", "game_id", "game", "created"]


def test_the_exported_file_has_no_hidden_column(client, staff, demo_data, point_admin, monkeypatch):
    monkeypatch.setattr(point_admin, "exclude", ["points"])
    client.force_login(staff)
    action = {"action": "export_rows", "_selected_action": [UserPoint.objects.first().pk]}
    page = client.post(reverse("admin:demo_userpoint_changelist"), action).content.decode()
    assert page.count('name="columns"') == 5 and 'value="points"' not in page
    confirm = {"post": "yes", "format": "csv", "delivery": "immediate", "columns": ["id"]}
    response = client.post(
        reverse("admin:demo_userpoint_changelist"), {**action, **confirm, "columns": "points"}
    )
    assert response.status_code == 200 and "not one of the available choices" in response.text
    confirm["columns"] = ["id", "user_id", "game_id", "task_id", "created"]
    response = client.post(reverse("admin:demo_userpoint_changelist"), {**action, **confirm})
    assert response.status_code == 200
    header = b"".join(response.streaming_content).decode().splitlines()[0]
    assert "Points" not in header and header.startswith("Id,User")


def test_the_users_admin_fieldsets_keep_the_users_dataset_whole(root):
    assert columns(root, "admin:auth.user") == [
        "id",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "created",
        "last_login",
    ]
