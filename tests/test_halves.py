"""A big CSV table read as two halves at once (engine.halves), on real connections to the test
PostgreSQL: the same bytes as the CSV writer, one snapshot for both halves, and nothing left
running when an export stops half-way."""

import copy
import csv
import io
import tempfile
import threading
from contextlib import ExitStack, closing

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.db.models import F

from exports.datasets import registry
from exports.engine import halves
from exports.engine.copystream import Copy, copy_statement
from exports.engine.fastpath import _csv_column, crlf, csv_line, write_csv
from exports.engine.progress import Progress
from exports.engine.tables import TableSource
from exports.formats import Options
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportStatus
from project.demo.models import UserPoint
from project.demo.seed import top_up
from tests.conftest import wait_for
from tests.test_fastpath import python_file

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 100_000


class Cancelled(Exception):
    pass


@pytest.fixture
def points(settings) -> None:
    """100,000 committed rows (other connections see only committed rows), split from 1,000."""
    settings.EXPORTS_SPLIT_COPY_ROWS = 1_000
    top_up(ROWS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE demo_userpoint")  # the planner's estimate picks the middle


@pytest.fixture
def splits(monkeypatch) -> list:
    """What each call of halves.split() returned: the real function, watched."""
    seen = []
    real = halves.split

    def watched(*args):
        seen.append(result := real(*args))
        return result

    monkeypatch.setattr(halves, "split", watched)
    return seen


def source(limit: int | None = None, conditions=None) -> TableSource:
    filters = {"limit": limit, "conditions": conditions}
    return TableSource.build(registry.get("user_points"), filters)


def csv_file(table: TableSource, options: Options | None = None, on_progress=None) -> bytes:
    out = io.BytesIO()
    with transaction.atomic():
        assert write_csv(out, [table], options or Options(), Progress(on_progress))
    return out.getvalue()


def copy_of(table: TableSource) -> Copy:
    return copy_statement(table, _csv_column, csv_line(","), zone="UTC")


@pytest.mark.parametrize(
    ("limit", "conditions"),
    [
        (None, None),
        (70_001, None),
        (None, {"points": {"ge": 50}}),
    ],
    ids=["whole", "limit", "filtered"],
)
def test_a_table_read_as_two_halves_is_byte_identical_to_the_csv_writer(
    points, splits, limit, conditions
):
    table = source(limit, conditions)
    options = Options(time_zone="Europe/Paris", delimiter="semicolon", bom=True)
    fast = csv_file(table, options)
    assert splits and splits[0] is not None, "read on one connection"
    assert fast == python_file("csv", [table], options)
    lines = list(csv.reader(io.StringIO(fast.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(lines) - 1 == (limit or table.dataset.filtered(conditions).count()) > 30_000


def test_the_halves_meet_at_the_middle_key_and_the_second_keeps_to_the_limit(points):
    table = source(limit=70_001)
    with transaction.atomic(), ExitStack() as stack:
        (_, first), (_, second) = halves.split(copy_of(table), stack)
    keys = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:70_001])
    first_keys = list(first.source.queryset().values_list("pk", flat=True))
    second_keys = list(second.source.queryset().values_list("pk", flat=True))
    assert first_keys + second_keys == keys
    assert first.source.pk_range == (None, first_keys[-1]) and first.source.limit is None
    assert second.source.pk_range == (first_keys[-1], None)
    assert second.source.limit == 70_001 - len(first_keys)
    assert abs(len(first_keys) - len(second_keys)) < 70_001 * 0.1


def test_both_halves_see_the_exports_snapshot_not_what_commits_meanwhile(
    points, splits, monkeypatch
):
    """Changes commit after the export's transaction exported its snapshot and before either
    half's connection is opened: a half in a snapshot of its own would see them."""
    table = source()
    before = python_file("csv", [table], Options())
    ordered = UserPoint.objects.order_by("pk")
    in_first_half, last = ordered.values_list("pk", flat=True)[30_000], ordered.last().pk
    real = halves.snapshot_connection
    committed = []

    def commit_then_connect(alias: str, snapshot: str):
        if not committed:
            writer = connections.create_connection(alias)
            with closing(writer):
                writer.ensure_connection()
                change = writer.connection.execute
                change(
                    "UPDATE demo_userpoint SET points = points + 1000 WHERE id = %s",
                    [in_first_half],
                )
                change("DELETE FROM demo_userpoint WHERE id = %s", [last])
                change(
                    "INSERT INTO demo_userpoint (user_id, game_id, task_id, points, created)"
                    " SELECT user_id, game_id, task_id, 7, created FROM demo_userpoint"
                    " WHERE id = %s",
                    [in_first_half],
                )
            committed.append(snapshot)
        return real(alias, snapshot)

    monkeypatch.setattr(halves, "snapshot_connection", commit_then_connect)
    fast = csv_file(table)
    assert splits[0] is not None and committed
    assert fast == before
    assert python_file("csv", [table], Options()) != before  # the changes are committed


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_workers_export_reads_a_big_table_as_two_halves(points, splits, staff, exports_root):
    """The worker's own path (run in-process): its transaction has written nothing when the
    table is read, so the halves share its snapshot, and progress comes to the whole table."""
    audit = queue_export(staff, "user_points", "csv").audit
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert splits and splits[0] is not None
    stored = exports_root / DownloadFile.objects.get(audit=audit).stored_name
    with stored.open(newline="") as text:
        assert sum(1 for _ in csv.reader(text)) - 1 == audit.row_count == UserPoint.objects.count()


def test_one_connection_when_splitting_would_not_be_exact_or_would_not_pay(points, settings):
    copy = copy_of(source())
    with ExitStack() as stack:
        assert halves.split(copy, stack) is None, "autocommit: no snapshot to share"
        with transaction.atomic():
            with transaction.atomic():
                assert halves.split(copy, stack) is None, "a savepoint cannot export one"
            UserPoint.objects.filter(pk=UserPoint.objects.first().pk).update(points=F("points"))
            assert halves.split(copy, stack) is None, "its own write is invisible to others"
        settings.EXPORTS_SPLIT_COPY_ROWS = 0
        with transaction.atomic():
            assert halves.split(copy, stack) is None, "switched off"
        settings.EXPORTS_SPLIT_COPY_ROWS = ROWS * 1000
        with transaction.atomic():
            assert halves.split(copy, stack) is None, "fewer rows than the threshold"
        settings.EXPORTS_SPLIT_COPY_ROWS = 1_000
        with transaction.atomic():
            assert halves.split(copy, stack) is not None


def test_a_table_in_another_order_than_its_key_is_read_on_one_connection(points):
    """A dataset may order its rows itself: halves by key would put them out of order."""
    newest = copy.copy(registry.get("user_points"))

    class Newest(type(newest)):
        def filtered(self, conditions=None, limit=None):
            qs = super().filtered(conditions).order_by("-pk")
            return qs[:limit] if limit else qs

    object.__setattr__(newest, "__class__", Newest)  # a frozen dataclass
    table = TableSource.build(newest, {})
    with transaction.atomic(), ExitStack() as stack:
        assert halves.split(copy_of(table), stack) is None
    fast = csv_file(table)
    assert fast == python_file("csv", [table], Options())
    assert fast.split(b"\r\n")[1].startswith(str(UserPoint.objects.latest("pk").pk).encode())


def test_fewer_rows_than_the_planner_expects_are_read_on_one_connection(points):
    """Statistics from before a big delete: the middle key the planner's count points at does
    not exist, so the table is read whole on the export's connection (and its file is right)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE demo_userpoint SET (autovacuum_enabled = false)")
        try:
            keys = UserPoint.objects.order_by("pk").values_list("pk", flat=True)
            UserPoint.objects.filter(pk__gt=keys[ROWS // 3]).delete()
            table = source()
            idle = other_backends()
            with transaction.atomic(), ExitStack() as stack:
                assert halves.split(copy_of(table), stack) is None
                wait_for(lambda: other_backends() == idle, timeout=15, what="its connection to end")
            assert csv_file(table) == python_file("csv", [table], Options())
        finally:
            cursor.execute("ALTER TABLE demo_userpoint RESET (autovacuum_enabled)")


def other_backends() -> int:
    """Read afresh each time: inside a transaction PostgreSQL keeps showing the activity it
    read first (a backend that has just ended would stay counted)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def second_halves_running() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "exportdesk-second-half"]


def test_a_cancelled_export_stops_the_second_half_and_closes_both_connections(points, splits):
    idle = other_backends()

    def cancel(rows: int) -> None:
        assert other_backends() >= idle + 2, "the halves run on connections of their own"
        raise Cancelled

    with pytest.raises(Cancelled):
        csv_file(source(), on_progress=cancel)
    assert splits[0] is not None
    assert not second_halves_running()
    wait_for(lambda: other_backends() == idle, timeout=30, what="the halves' backends to end")


def spooler_on(select: str, spool) -> tuple:
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    copy = Copy(source(), "default", select, "FORMAT csv")
    return wrapper, halves.spooled(wrapper.connection, copy, crlf, spool, 10)


def test_an_error_in_the_second_half_reaches_the_export(points):
    with tempfile.TemporaryFile() as spool:
        wrapper, running = spooler_on("SELECT 1 / (3 - n) FROM generate_series(1, 5) n", spool)
        with closing(wrapper), running as spooler, pytest.raises(psycopg.errors.DivisionByZero):
            spooler.wait()


def test_leaving_early_cancels_the_second_halfs_statement_on_the_server(points):
    with tempfile.TemporaryFile() as spool:
        wrapper, running = spooler_on("SELECT pg_sleep(600)", spool)
        with closing(wrapper):
            with running as spooler:
                wait_for(lambda: other_backends_running("pg_sleep"), what="the statement")
            assert not spooler.is_alive()
            assert isinstance(spooler.failed, psycopg.errors.QueryCanceled)


def other_backends_running(text: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s"
            " AND pid <> pg_backend_pid()",
            [f"%{text}%"],
        )
        return cursor.fetchone()[0] > 0
