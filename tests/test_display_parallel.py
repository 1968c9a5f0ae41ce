"""A changelist "as shown in the admin" read by several worker processes (engine.parallel):
the same file, byte for byte, as one process writes; the same rows as the changelist."""

import csv
import io
import zipfile

import pytest
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.test import override_settings

from exports.datasets.changelist import dataset_for
from exports.datasets.conditions import ConditionError
from exports.datasets.instances import instances
from exports.engine import export
from exports.engine.parallel import plan_for
from exports.engine.tables import TableSource
from project.demo.admin import UserPointAdmin
from project.demo.models import UserPoint
from project.demo.seed import top_up
from tests.conftest import make_user
from tests.test_display_mode import swap_admin

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
POINTS = "admin:demo.userpoint"
ROWS = 3000
SPLIT = {"EXPORTS_SPLIT_COPY_ROWS": 1000}


@pytest.fixture
def clerk(db) -> User:
    user = make_user("clerk", staff=True, export=True)
    user.user_permissions.add(*Permission.objects.filter(codename="view_user"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def points(db) -> None:
    top_up(ROWS)


def written(user: User, fmt: str, processes: int, filters=None) -> bytes:
    dataset = dataset_for(POINTS, user, filters or {}, display=True)
    out = io.BytesIO()
    with override_settings(EXPORTS_DISPLAY_PROCESSES=processes, **SPLIT):
        export(out, dataset, fmt, filters)
    return out.getvalue()


def contents(body: bytes) -> bytes | dict[str, bytes]:
    """The bytes; for a zip (XLSX, ODS) its members' bytes, which do not hold the clock."""
    if not body.startswith(b"PK"):
        return body
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def keys_of(body: bytes) -> list[int]:
    return [int(row[0]) for row in list(csv.reader(io.StringIO(body.decode())))[1:]]


def parts_planned(user: User, filters=None) -> int:
    """How many worker processes the export would start (0: its own process only)."""
    dataset = dataset_for(POINTS, user, filters or {}, display=True)
    source = TableSource.build(dataset, filters)
    with override_settings(EXPORTS_DISPLAY_PROCESSES=3, **SPLIT), transaction.atomic():
        plan = plan_for(source)
    return 0 if plan is None else len(plan.parts)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods", "json"])
def test_three_processes_write_the_same_bytes_as_one(clerk, points, fmt):
    assert parts_planned(clerk) == 3
    one = written(clerk, fmt, 1)
    assert contents(written(clerk, fmt, 3)) == contents(one)
    if fmt == "csv":
        expected = UserPoint.objects.order_by("-pk").values_list("pk", flat=True)
        assert keys_of(one) == list(expected)


def test_a_limit_and_ticked_rows_split_exactly(clerk, points):
    """The row limit cuts the last range; conditions narrow the changelist's query."""
    chosen = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[100:2600])
    filters = {"limit": 2200, "conditions": {"id": chosen}}
    assert parts_planned(clerk, filters) == 3
    body = written(clerk, "csv", 3, filters)
    assert body == written(clerk, "csv", 1, filters)
    assert keys_of(body) == sorted(chosen, reverse=True)[:2200]


def test_a_changelist_ordered_by_another_column_stays_in_one_process(clerk, points, monkeypatch):
    class ByPoints(UserPointAdmin):
        ordering = ["points"]

    swap_admin(monkeypatch, UserPoint, ByPoints)
    assert parts_planned(clerk) == 0
    assert written(clerk, "csv", 3) == written(clerk, "csv", 1)


def test_a_failing_cell_in_a_worker_fails_the_export_with_its_reason(clerk, points, monkeypatch):
    bad = UserPoint.objects.order_by("pk").values_list("pk", flat=True)[10]

    class Failing(UserPointAdmin):
        list_display = ["id", "breaks"]

        def breaks(self, obj: UserPoint) -> str:
            if obj.pk == bad:
                raise ValueError("no such badge")
            return "ok"

    swap_admin(monkeypatch, UserPoint, Failing)
    assert parts_planned(clerk) == 3
    with pytest.raises(ConditionError, match="no such badge"):
        written(clerk, "csv", 3)


def fields_of(obj) -> dict:
    """An instance as Django leaves it: field values, state, joined objects (recursively)."""
    values = {k: v for k, v in vars(obj).items() if k != "_state"}
    joined = {name: fields_of(o) for name, o in obj._state.fields_cache.items() if o}
    return {"values": values, "db": obj._state.db, "adding": obj._state.adding, **joined}


def test_instances_built_directly_are_the_ones_djangos_iterator_builds(points):
    qs = UserPoint.objects.select_related("user", "game", "task").order_by("-pk")[:500]
    with transaction.atomic():
        ours = [fields_of(o) for o in instances(qs, 100)]
        django = [fields_of(o) for o in qs.iterator(100)]
    assert ours == django and len(ours) == 500
    assert set(ours[0]) == {"values", "db", "adding", "user", "game", "task"}
