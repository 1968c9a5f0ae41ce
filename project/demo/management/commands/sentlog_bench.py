"""`manage.py sentlog_bench --rows 1000000 --new 10000`: the incremental sent log at scale.

With `rows - new` rows of user_points already in one recipient's sent log, times choosing and
writing the `new` rows not yet sent (stage + export of those rows), logging them after the
delivery succeeded, and a plain export of `new` rows of the same dataset for comparison.
`--layout scattered` leaves every (rows / new)-th row out of the log instead of the newest
ones (the log is then `new` ranges rather than one). Each figure is the median of `--repeat`
runs; the log is put back as it was after each. Everything it creates is deleted at the end.
"""

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from exports.conf import app_settings
from exports.datasets.base import get_dataset
from exports.engine import export
from exports.models import DeliveryLog, ExportSchedule, SavedExport, ScheduleRun, SentLog, Trigger
from exports.scheduling import sentlog
from exports.scheduling.sentlog import StagedRows

DATASET = "user_points"
BENCH_USER = "sentlog-bench"
# Every `step`-th row left out: `step - 1` logged rows per range.
SCATTERED_SQL = """INSERT INTO exports_sentrange (log_id, lo, hi)
    SELECT %(log)s, MIN(id), MAX(id) FROM (
        SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %(step)s AS block,
               (ROW_NUMBER() OVER (ORDER BY id) - 1) %% %(step)s AS place
        FROM demo_userpoint) numbered
    WHERE place <> %(step)s - 1 GROUP BY block"""


class Command(BaseCommand):
    help = "Benchmark the incremental sent log: select, write and log the rows not yet sent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--new", type=int, default=10_000)
        parser.add_argument("--layout", choices=["contiguous", "scattered"], default="contiguous")
        parser.add_argument("--format", default="csv")
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--no-seed", action="store_true", help="Use the rows that exist.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("sentlog_bench measures PostgreSQL; set DATABASE_URL.")
        if not opts["no_seed"]:
            from project.demo.seed import top_up

            top_up(opts["rows"])
        delivery = bench_delivery()
        try:
            self.emit(measure(delivery, opts))
        finally:
            delivery.run.schedule.saved_export.delete()
            get_user_model().objects.filter(username=BENCH_USER).delete()

    def emit(self, line: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(line))


def bench_delivery() -> DeliveryLog:
    owner, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
    saved = SavedExport.objects.create(
        name="sentlog bench", owner=owner, dataset=DATASET, format="csv"
    )
    schedule = ExportSchedule.objects.create(saved_export=saved, kind="interval", paused=True)
    run = ScheduleRun.objects.create(schedule=schedule, trigger=Trigger.MANUAL)
    return another(DeliveryLog(run=run))


def another(delivery: DeliveryLog) -> DeliveryLog:
    """Every run delivers under a new id, as in production."""
    return DeliveryLog.objects.create(run=delivery.run, recipient="user:bench", incremental=True)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def fill_log(log: SentLog, delivery: DeliveryLog, layout: str, rows: int, new: int) -> float:
    """Put all but `new` of the rows in the log; returns the seconds it took."""
    logged = rows - new
    if layout == "scattered":
        step = {"log": log.pk, "step": max(rows // new, 2)}
        with connection.cursor() as cursor:
            return timed(lambda: cursor.execute(SCATTERED_SQL, step))[0]
    dataset = get_dataset(DATASET)
    with transaction.atomic():
        seconds, _ = timed(lambda: sentlog.stage(log, delivery, dataset, {}, logged))
        seconds += timed(lambda: sentlog.log_sent(log.pk, delivery))[0]
    return seconds


def one_round(log: SentLog, delivery: DeliveryLog, rows: int, new: int, fmt: str) -> dict:
    """Choose, write and log the new rows, then a plain export of as many; seconds of each."""
    dataset = get_dataset(DATASET)
    with transaction.atomic():
        select, count = timed(lambda: sentlog.stage(log, delivery, dataset, {}, rows))
    with tempfile.TemporaryFile(dir=app_settings.TMP_DIR) as out:
        write, result = timed(
            lambda: export(out, StagedRows.around(dataset, delivery.pk), fmt, {}, max_rows=rows)
        )
    with transaction.atomic():
        logged, _ = timed(lambda: sentlog.log_sent(log.pk, delivery))
    with tempfile.TemporaryFile(dir=app_settings.TMP_DIR) as out:
        plain, _ = timed(lambda: export(out, dataset, fmt, {"limit": new}))
    return {
        "select": select,
        "write": write,
        "log": logged,
        "plain": plain,
        "chosen": count,
        "written": result.rows,
    }


def measure(delivery: DeliveryLog, opts: dict[str, Any]) -> dict[str, Any]:
    rows, new = opts["rows"], opts["new"]
    log = SentLog.objects.create(
        schedule=delivery.run.schedule, recipient=delivery.recipient, dataset=DATASET
    )
    fill_seconds = fill_log(log, delivery, opts["layout"], rows, new)
    ranges_before = set(log.ranges.values_list("pk", flat=True))
    with tempfile.TemporaryFile(dir=app_settings.TMP_DIR) as out:
        export(out, get_dataset(DATASET), opts["format"], {"limit": 1})  # one-time set-up
    rounds = []
    for _ in range(opts["repeat"]):
        delivery = another(delivery)
        rounds.append(one_round(log, delivery, rows, new, opts["format"]))
        log.ranges.exclude(pk__in=ranges_before).delete()  # as it was, for the next round

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    select_and_write = statistics.median(r["select"] + r["write"] for r in rounds)
    return {
        "layout": opts["layout"],
        "rows": rows,
        "logged": rows - new,
        "log_ranges": len(ranges_before),
        "fill_log_seconds": round(fill_seconds, 3),
        "new_rows": rounds[-1]["chosen"],
        "rows_written": rounds[-1]["written"],
        "format": opts["format"],
        "select_seconds": round(median("select"), 3),
        "write_seconds": round(median("write"), 3),
        "select_and_write_seconds": round(select_and_write, 3),
        "log_seconds": round(median("log"), 3),
        "plain_export_seconds": round(median("plain"), 3),
        "ratio_vs_plain": round(select_and_write / median("plain"), 2),
        "target_ratio": 3,
    }
