"""Datasets: declared columns, allow-listed filters, and a deny-list no request overrides."""

import sys

import pytest
from django.contrib.auth.models import User

from exports.datasets import Column, Dataset, get_dataset, registry
from exports.datasets.changelist import changelist_dataset, default_columns
from exports.datasets.conditions import ConditionError
from exports.formats import WRITERS
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import ExportAudit, ExportStatus


def test_the_four_datasets_of_the_demo_are_registered():
    assert registry.names() == ["users", "user_points", "user_interactions", "wallet_transactions"]
    points = get_dataset("user_points")
    assert [c.name for c in points.columns][:3] == ["id", "user_id", "username"]
    assert {"created", "game", "task"} <= set(points.filters)
    assert "game" not in get_dataset("user_interactions").filters


def test_a_dataset_leaves_out_a_sensitive_column_or_filter():
    for model, bad in (
        ("auth.User", {"columns": (Column("pw", "password"),), "filters": {}}),
        ("auth.User", {"columns": (Column("id", "id"),), "filters": {"pw": "password"}}),
        ("demo.UserPoint", {"columns": (Column("pw", "user__password"),), "filters": {}}),
    ):
        dataset = Dataset(name="x", title="X", model_label=model, **bad)
        assert "pw" not in [c.name for c in dataset.columns] and "pw" not in dataset.filters
        assert [why for _, why in dataset.omitted] == ["a secret field"]


def test_a_dataset_may_allow_list_a_sensitive_looking_field_explicitly():
    dataset = Dataset(
        name="x",
        title="X",
        model_label="auth.User",
        columns=(Column("last_login", "last_login"),),
        filters={},
        allow_sensitive=frozenset(),
    )
    assert dataset.columns[0].kind == "datetime"


def test_filters_cannot_reach_hidden_fields(db):
    with pytest.raises(ConditionError, match="Unknown filter field 'password'"):
        get_dataset("users").filtered({"password": {"like": "pbkdf2%"}})
    with pytest.raises(ConditionError, match="user__password__startswith"):
        get_dataset("user_points").filtered({"user__password__startswith": "p"})


def test_derived_columns_leave_out_deny_listed_fields(db):
    names = [c.name for c in default_columns(User)]
    assert "password" not in names and "username" in names


def test_a_changelist_dataset_replays_the_admins_filters(staff, demo_data):
    from project.demo.models import UserPoint

    game = UserPoint.objects.order_by("pk").first().game_id
    dataset = changelist_dataset("admin:demo.userpoint", staff, f"game__id__exact={game}")
    assert dataset.name == "user_points"
    assert dataset.filtered().count() == UserPoint.objects.filter(game=game).count()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_job_whose_format_library_is_missing_fails_naming_the_package(
    staff, demo_data, monkeypatch
):
    audit = queue_export(staff, "user_points", "xlsx").audit
    # No built-in writer needs an optional library now: xlsx is pointed at one that is missing.
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if uninstalled before the job ran
    monkeypatch.setitem(WRITERS, "xlsx", ("Excel (XLSX)", "openpyxl.Writer"))
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert "needs the Python package 'openpyxl'" in audit.error
    assert ExportAudit.objects.count() == 1
