"""Incremental delivery: each recipient gets only the rows their sent log does not hold.

The log stores ranges of primary keys (SentRange lo..hi: every key in it was sent), so an
append-mostly table sent week after week costs one range per delivery instead of one row per
record. "Not yet sent" is a join of the dataset's rows against the gaps between the ranges,
which PostgreSQL answers with one index range scan per gap: with one big range and 10,000
new rows it reads those 10,000 rows and nothing else.

A run stages the chosen keys (PendingRow, one INSERT ... SELECT). Right before the export
reads, the staged keys whose rows no longer match the filters (or are gone) are dropped, and
the export reads exactly the keys left (exactly_staged): the sent log must hold only keys that
are in the file, and a dropped row goes in a later run, once it matches again. Only when the
delivery succeeds do the keys become ranges, in the transaction that records the success (one
INSERT ... SELECT that folds consecutive keys into ranges); a failed delivery drops them, so
the next run picks them up again with whatever is new.
"""

import dataclasses
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext

from exports.datasets.base import Dataset, get_dataset
from exports.datasets.changelist import ADMIN_PREFIX
from exports.engine import row_cap
from exports.models import DeliveryLog, ExportAudit, PendingRow, SentLog, SentRange

LOWEST = -9223372036854775807  # one above bigint's minimum: SQLite reads -2**63 as a float
HIGHEST = 9223372036854775807
MAX_ISLANDS = 100  # beyond this many runs, an export reads its rows by joining PendingRow
INTEGER_KEYS = (models.AutoField, models.BigAutoField, models.IntegerField)


def dataset_model(name: str) -> type[models.Model]:
    if name.startswith(ADMIN_PREFIX):
        return apps.get_model(name.removeprefix(ADMIN_PREFIX))
    return get_dataset(name).model


def incremental_problem(dataset: str) -> str | None:
    """Why this dataset cannot be sent incrementally, or None."""
    try:
        key = dataset_model(dataset)._meta.pk
    except LookupError as exc:
        return str(exc)
    if isinstance(key, INTEGER_KEYS):
        return None
    text = gettext(
        "Incremental schedules need a dataset whose primary key is an integer; %(dataset)s's "
        "is a %(kind)s."
    )
    return text % {"dataset": dataset, "kind": type(key).__name__}


def open_log(schedule, key: str, dataset: str) -> SentLog:
    """The recipient's log, locked until the caller's transaction ends, so that two runs
    never stage the same rows for the same recipient."""
    log, _ = SentLog.objects.get_or_create(schedule=schedule, recipient=key, dataset=dataset)
    return SentLog.objects.select_for_update().get(pk=log.pk)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def gaps_sql() -> str:
    """The keys no range covers, as (lo, hi) pairs; a running maximum tolerates overlaps."""
    ranges = table(SentRange)
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    return f"""WITH ordered AS (
        SELECT lo, hi, MAX(hi) OVER (
            ORDER BY lo ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
        FROM {ranges} WHERE log_id = %s
    ), gaps AS {materialized}(
        SELECT COALESCE(before + 1, {LOWEST}) AS lo, lo - 1 AS hi
        FROM ordered WHERE before IS NULL OR lo > before + 1
        UNION ALL
        SELECT COALESCE(MAX(hi) + 1, {LOWEST}) AS lo, {HIGHEST} AS hi
        FROM {ranges} WHERE log_id = %s
    )"""  # noqa: S608 - table names from our models, values bound


def stage(log: SentLog, delivery: DeliveryLog, dataset: Dataset, filters: dict, cap: int) -> int:
    """Choose this delivery's rows: matching the filters now, in no range of the log, at most
    the filters' limit (and the row cap), lowest keys first. Returns how many."""
    limit = min(int(filters.get("limit") or cap), cap)
    rows = dataset.filtered(filters.get("conditions")).order_by().values(row_pk=F("pk"))
    inner, inner_params = rows.query.get_compiler(using=rows.db).as_sql()
    statement = f"""{gaps_sql()}
        INSERT INTO {table(PendingRow)} (delivery_id, row_pk)
        SELECT DISTINCT %s, q.row_pk FROM ({inner}) q
        JOIN gaps g ON q.row_pk BETWEEN g.lo AND g.hi
        ORDER BY q.row_pk LIMIT %s"""  # noqa: S608
    params = [log.pk, log.pk, delivery.pk, *inner_params, limit]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner overestimates gap joins badly; compiling them costs more than running.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(statement, params)
        if cursor.rowcount >= 0:
            return cursor.rowcount
    # Python's sqlite3 reports no count for a statement that starts with WITH.
    return PendingRow.objects.filter(delivery=delivery).count()


def islands_sql() -> str:
    """A delivery's staged keys as runs of consecutive integers (lo, hi)."""
    return f"""SELECT MIN(row_pk) AS lo, MAX(row_pk) AS hi FROM (
            SELECT row_pk, row_pk - ROW_NUMBER() OVER (ORDER BY row_pk) AS island
            FROM {table(PendingRow)} WHERE delivery_id = %s
        ) keys GROUP BY island"""  # noqa: S608


def islands(delivery_id: int, most: int = MAX_ISLANDS) -> list[tuple[int, int]] | None:
    """The staged keys as at most `most` runs, or None when they are more scattered."""
    with connection.cursor() as cursor:
        cursor.execute(f"{islands_sql()} ORDER BY lo LIMIT %s", [delivery_id, most + 1])
        found = [tuple(row) for row in cursor.fetchall()]
    return None if len(found) > most else found


def log_sent(log_id: int, delivery: DeliveryLog) -> int:
    """The delivered rows become ranges (consecutive keys fold into one); returns ranges added.
    Call in the transaction that records the delivery's success."""
    statement = f"""INSERT INTO {table(SentRange)} (log_id, lo, hi, delivery_id)
        SELECT %s, lo, hi, %s FROM ({islands_sql()}) runs"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, [log_id, delivery.pk, delivery.pk])
        added = cursor.rowcount
    drop_pending(delivery)
    return added


def drop_pending(delivery: DeliveryLog) -> None:
    PendingRow.objects.filter(delivery=delivery).delete()


def is_sent(log: SentLog, key: int) -> bool:
    return log.ranges.filter(lo__lte=key, hi__gte=key).exists()


@dataclasses.dataclass(frozen=True)
class StagedRows(Dataset):
    """The rows staged for one delivery, read through the dataset they came from (a changelist
    applies its filters again there). The limit was applied when the rows were chosen; what
    left the filters since is dropped from the staged keys by exactly_staged()."""

    inner: Any = None
    delivery_id: int = 0
    runs: tuple[tuple[int, int], ...] | None = None  # the keys as ranges, when they are few

    @classmethod
    def around(cls, dataset: Dataset, delivery_id: int) -> "StagedRows":
        base = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(Dataset)}
        found = islands(delivery_id)
        runs = None if found is None else tuple(found)
        return cls(**base, inner=dataset, delivery_id=delivery_id, runs=runs)

    def get_queryset(self) -> models.QuerySet:
        """Few runs of consecutive keys read as index ranges, in order (every key in a run
        was staged, so the ranges are exact); scattered keys through the staged table."""
        rows = self.inner.get_queryset()
        if self.runs is None:
            chosen = PendingRow.objects.filter(delivery_id=self.delivery_id).values("row_pk")
            return rows.filter(pk__in=chosen)
        return rows.filter(within(self.runs)) if self.runs else rows.none()

    def filtered(self, conditions: Any = None, limit: int | None = None) -> models.QuerySet:
        qs = self.get_queryset().order_by("pk")
        return qs[:limit] if limit else qs


def staged_rows_for(audit: ExportAudit, dataset: Dataset) -> Dataset:
    """The runner's hook: an incremental delivery's export reads its staged rows only."""
    if audit.schedule_id is None:
        return dataset
    delivery = DeliveryLog.objects.filter(audit=audit, incremental=True).only("pk").first()
    return StagedRows.around(dataset, delivery.pk) if delivery else dataset


@contextmanager
def exactly_staged(dataset: Dataset, filters: dict) -> Iterator[Dataset]:
    """Export the dataset this yields inside the block: for staged rows, the keys the export
    will write and nothing else stay staged (drop_unsent), so the sent log records exactly the
    file. On PostgreSQL the check and the export's read share one snapshot: a row that changes
    meanwhile is either kept and written or dropped, never logged unwritten. Elsewhere the
    check runs just before the read. Any other dataset passes through untouched."""
    if not isinstance(dataset, StagedRows):
        yield dataset
        return
    with one_snapshot():
        if drop_unsent(dataset, filters):  # else its runs stay exact: only it changes its keys
            dataset = StagedRows.around(dataset.inner, dataset.delivery_id)
        yield dataset


@contextmanager
def one_snapshot() -> Iterator[None]:
    """A REPEATABLE READ transaction on PostgreSQL: every statement in it, the engine's read
    too (its atomic() becomes a savepoint), sees the database as of the first one. A caller
    already in a transaction keeps it as it is (the level can only be set at its start)."""
    if connection.vendor != "postgresql":
        yield
        return
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def drop_unsent(staged: StagedRows, filters: dict) -> int:
    """Unstage the keys the export will not write: rows that left the filters or were deleted
    since staging (a later run sends them once they match again), and keys past the export's
    limit (a row cap lowered meanwhile). Returns how many."""
    limit = min(int(filters.get("limit") or row_cap()), row_cap())
    return drop_unmatched(staged, filters.get("conditions")) + drop_past(staged, limit)


def drop_unmatched(staged: StagedRows, conditions: Any) -> int:
    """Staged keys whose rows no longer match. Keys known as runs are counted first (an index
    range scan per run), which spares the anti-join when every one still matches."""
    keys = PendingRow.objects.filter(delivery_id=staged.delivery_id)
    matching = staged.inner.filtered(conditions)
    if staged.runs is not None:
        found = matching.filter(within(staged.runs)).values("pk").distinct().count()
        if found == run_length(staged.runs):
            return 0
    return keys.filter(~Exists(matching.filter(pk=OuterRef("row_pk")))).delete()[0]


def drop_past(staged: StagedRows, limit: int) -> int:
    """Staged keys after the first `limit`: the export stops there."""
    if staged.runs is not None and run_length(staged.runs) <= limit:
        return 0
    keys = PendingRow.objects.filter(delivery_id=staged.delivery_id)
    last = keys.order_by("row_pk").values_list("row_pk", flat=True)[limit - 1 : limit]
    return keys.filter(row_pk__gt=last[0]).delete()[0] if last else 0


def within(runs: tuple[tuple[int, int], ...]) -> Q:
    """Keys in any of the runs (none: no key)."""
    return reduce(operator.or_, (Q(pk__range=run) for run in runs), Q(pk__in=[]))


def run_length(runs: tuple[tuple[int, int], ...]) -> int:
    return sum(hi - lo + 1 for lo, hi in runs)
