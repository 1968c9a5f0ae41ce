"""The secret-column deny-list matches whole words of a field name, not substrings; a column
that reaches a secret is reported by a system check at start-up and left out (with a message)
at request time, never a 500."""

import pytest
from django.contrib import admin
from django.db import models
from django.test.utils import isolate_apps
from django.urls import reverse

from exports.checks import check_export_columns
from exports.datasets.base import Column, Dataset, is_sensitive_path
from exports.datasets.changelist import changelist_dataset, default_columns
from exports.models import ExportAudit
from project.demo.models import UserPoint

CHANGELIST = "admin:demo_userpoint_changelist"
ORDINARY = ["author", "author__name", "capital", "keyword", "passenger", "monkey", "tokenizer_x"]
SECRET = [
    "password",
    "user__password",
    "passwd",
    "api_key",
    "apiKey",
    "apikey",
    "auth_token",
    "token",
    "refresh_token",
    "client_secret",
    "password_hash",
    "hash",
    "signature",
    "private_key",
    "session_key",
    "otp",
    "otp_seed",
    "salt",
    "key",
]


@pytest.mark.parametrize("path", ORDINARY)
def test_a_name_containing_a_secret_word_is_not_secret(path):
    assert not is_sensitive_path(path)


@pytest.mark.parametrize("path", SECRET)
def test_a_name_made_of_a_secret_word_is_secret(path):
    assert is_sensitive_path(path)


@isolate_apps("exports")
def test_default_columns_keep_author_capital_keyword_and_passenger():
    class Trip(models.Model):
        author = models.CharField(max_length=10)
        capital = models.CharField(max_length=10)
        keyword = models.CharField(max_length=10)
        passenger = models.CharField(max_length=10)
        api_key = models.CharField(max_length=10)

        class Meta:
            app_label = "exports"

        def __str__(self) -> str:
            return self.author

    names = [c.name for c in default_columns(Trip)]
    assert names == ["id", "author", "capital", "keyword", "passenger"]


def test_a_declared_dataset_leaves_a_secret_column_out_and_says_why():
    dataset = Dataset(
        name="x",
        title="X",
        model_label="demo.UserPoint",
        columns=(Column("id", "id"), Column("pw", "user__password")),
        filters={"pw": "user__password", "points": "points"},
    )
    assert [c.name for c in dataset.columns] == ["id"]
    assert list(dataset.filters) == ["points"]
    assert dict(dataset.omitted) == {"user__password": "a secret field"}


@pytest.fixture
def secret_columns(monkeypatch):
    """The demo's UserPointAdmin configured with a column that reaches the password hash."""
    model_admin = admin.site._registry[UserPoint]
    monkeypatch.setattr(model_admin, "export_dataset", "")
    monkeypatch.setattr(model_admin, "export_columns", ["id", "user__password", "points"])
    return model_admin


def test_the_system_check_names_the_model_admin_and_the_column(secret_columns):
    errors = [e for e in check_export_columns() if e.id == "exports.E004"]
    assert len(errors) == 1
    assert "UserPointAdmin" in errors[0].msg and "user__password" in errors[0].msg


def test_the_system_check_names_a_declared_dataset_with_a_secret_column(monkeypatch):
    from exports.datasets.registry import registry

    bad = Dataset(
        name="leaky",
        title="Leaky",
        model_label="auth.User",
        columns=(Column("id", "id"), Column("password", "password")),
        filters={},
    )
    monkeypatch.setitem(registry._registry, "leaky", bad)
    errors = [e for e in check_export_columns() if e.id == "exports.E004"]
    assert [("leaky" in e.msg, "password" in e.msg) for e in errors] == [(True, True)]


def test_the_shipped_configuration_passes_the_check():
    assert check_export_columns() == []


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_export_with_a_secret_column_configured_leaves_it_out_not_a_500(
    client, staff, demo_data, secret_columns
):
    client.force_login(staff)
    first = UserPoint.objects.first().pk
    page = client.post(reverse(CHANGELIST), {"action": "export_rows", "_selected_action": [first]})
    assert page.status_code == 200
    text = page.content.decode()
    assert page.content.decode().count('name="columns"') == 2
    assert "Left out of this export: user__password (a secret field)" in text
    dataset = changelist_dataset("admin:demo.userpoint", staff, "")
    assert [c.name for c in dataset.columns] == ["id", "points"]
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "export_rows",
            "_selected_action": [first],
            "post": "yes",
            "format": "csv",
            "delivery": "immediate",
            "columns": ["id", "points"],
        },
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "Id,Points" and "pbkdf2" not in body
    assert ExportAudit.objects.get().status == "completed"
