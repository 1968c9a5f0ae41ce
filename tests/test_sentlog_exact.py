"""An incremental delivery's sent log records exactly the keys in its file: a staged row that
leaves the changelist's filter (or is deleted, or falls past a lowered row cap) before the
export reads is neither written nor logged, and goes in a later run once it matches again."""

import csv
import io

import pytest
from django.db import connections

from exports import engine
from exports.datasets.changelist import dataset_for
from exports.models import DeliveryLog, ExportSchedule, PendingRow, ScheduleRun, SentRange
from exports.scheduling.runs import run_now
from exports.scheduling.sentlog import exactly_staged, islands, staged_rows_for
from project.demo.models import Game, UserPoint
from project.demo.seed import top_up
from tests.conftest import make_user
from tests.schedules import delivered_file, finish_exports, ids_in, saved_export, schedule_for

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.sqlite_lane,
]
POINTS = "admin:demo.userpoint"


@pytest.fixture
def owner(db):
    return make_user("owner", staff=True, export=True)


@pytest.fixture
def game(demo_data) -> Game:
    return Game.objects.order_by("pk").first()


@pytest.fixture
def other_game(game) -> Game:
    return Game.objects.exclude(pk=game.pk).order_by("pk").first()


@pytest.fixture
def one_game(owner, game) -> ExportSchedule:
    """Incremental, over the user points changelist filtered to one game."""
    saved = saved_export(owner, POINTS, filters={"changelist": f"game__id__exact={game.pk}"})
    return schedule_for(saved, incremental=True)


def in_game(game: Game) -> list[int]:
    return list(UserPoint.objects.filter(game=game).order_by("pk").values_list("pk", flat=True))


def staged(schedule_run: ScheduleRun) -> list[int]:
    keys = PendingRow.objects.filter(delivery__run=schedule_run).order_by("row_pk")
    return list(keys.values_list("row_pk", flat=True))


def logged() -> list[int]:
    """Every key the sent log holds, one by one."""
    ranges = SentRange.objects.values_list("lo", "hi")
    return sorted(key for lo, hi in ranges for key in range(lo, hi + 1))


@pytest.mark.parametrize("rows", [300, 3000])  # staged keys read as runs / via the staged table
def test_rows_that_left_the_filter_before_the_export_are_not_logged_and_go_later(
    owner, game, other_game, one_game, rows
):
    top_up(rows)
    run = run_now(one_game)
    chosen = staged(run)
    assert chosen == in_game(game) and len(chosen) > 10
    assert (islands(run.deliveries.get().pk) is None) == (rows > 300)
    moved, deleted = chosen[2:5], chosen[7]
    UserPoint.objects.filter(pk__in=moved).update(game=other_game)
    UserPoint.objects.filter(pk=deleted).delete()

    first = finish_exports(run)
    written = ids_in(delivered_file(first, owner))
    assert written == [key for key in chosen if key not in {*moved, deleted}]
    assert written == in_game(game)
    assert logged() == written
    assert first.deliveries.get().rows == len(written)
    assert not PendingRow.objects.exists()

    UserPoint.objects.filter(pk__in=moved).update(game=game)
    second = finish_exports(run_now(one_game))
    assert ids_in(delivered_file(second, owner)) == moved
    assert logged() == in_game(game)


def test_keys_past_a_row_cap_lowered_before_the_export_go_in_the_next_run(
    owner, game, one_game, settings
):
    run = run_now(one_game)
    chosen = staged(run)
    settings.EXPORTS_MAX_ROWS_BACKGROUND = 5

    first = finish_exports(run)
    assert ids_in(delivered_file(first, owner)) == chosen[:5]
    assert logged() == chosen[:5]

    settings.EXPORTS_MAX_ROWS_BACKGROUND = 1_000_000
    second = finish_exports(run_now(one_game))
    assert ids_in(delivered_file(second, owner)) == chosen[5:]
    assert logged() == chosen


@pytest.mark.postgres_only
def test_the_check_and_the_read_share_one_snapshot(owner, game, other_game, one_game):
    """A row that leaves the filter after the staged keys were checked, but before the export
    reads, is still written, and stays staged to be logged: both saw the same rows."""
    run = run_now(one_game)
    chosen = staged(run)
    delivery = DeliveryLog.objects.get(run=run)
    audit = delivery.audit
    staged_rows = staged_rows_for(audit, dataset_for(POINTS, owner, audit.filters))
    out = io.BytesIO()
    with exactly_staged(staged_rows, audit.filters) as rows:
        elsewhere = UserPoint.objects.using("progress")  # another connection, committing now
        elsewhere.filter(pk__in=chosen[:3]).update(game=other_game)
        elsewhere.filter(pk=chosen[5]).delete()
        engine.export(out, rows, "csv", audit.filters)
    written = [int(row[0]) for row in list(csv.reader(io.StringIO(out.getvalue().decode())))[1:]]
    assert written == chosen
    assert staged(run) == chosen
    connections["progress"].close()
