"""`manage.py export_bench DATASET --rows N`: each format's speed and peak memory against the
ceilings (a bare COPY for every format; for the spreadsheets, XLSX and ODS, also a bare
openpyxl write-only loop, the usual way to write a spreadsheet in Python) on the first N rows
of a registered dataset (the demo seeds its own with `seed_demo`). Every measurement runs in a
fresh subprocess, so its peak RSS is its own.

DATASET may also be a ModelAdmin's changelist, `admin:<app_label.model>` (the demo:
`admin:demo.userpoint`); `--mode display` then times that changelist exported "as shown in the
admin" against its raw values, format by format, in the same run."""

import argparse
import json
import subprocess
import tempfile
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from exports.conf import app_settings
from exports.datasets.base import Dataset
from exports.datasets.changelist import ADMIN_PREFIX, DISPLAY, as_displayed, changelist_dataset
from exports.datasets.registry import UnknownDataset, get_dataset
from exports.engine import export
from exports.engine.copysql import select_sql, wrap
from exports.engine.tables import TableSource
from exports.formats import WRITERS
from exports.tools.memory import peak_rss_mb
from exports.tools.processes import database_env, django_command

COPY = "copy"
BARE_XLSX = "openpyxl-bare"
SPREADSHEETS = ("xlsx", "ods")


class Command(BaseCommand):
    help = "Benchmark every export format on the first N rows of a dataset (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "dataset", help="A registered dataset's name, or admin:<app_label.model>."
        )
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--formats", default="csv,json,xlsx,ods,tsvzip,sqlite")
        parser.add_argument(
            "--mode",
            choices=["formats", DISPLAY],
            default="formats",
            help="display: a changelist (admin:...) as shown in the admin vs its raw values.",
        )
        parser.add_argument("--child", help=argparse.SUPPRESS)

    def handle(self, *args: Any, dataset: str, rows: int, formats: str, **opts: Any) -> None:
        try:
            source_for(dataset)
        except UnknownDataset as exc:
            raise CommandError(str(exc)) from None
        if opts["child"]:
            self.stdout.write(json.dumps(measure(dataset, opts["child"], rows)))
            return
        if opts["mode"] == DISPLAY:
            if not dataset.startswith(ADMIN_PREFIX):
                raise CommandError("--mode display needs a changelist: admin:<app_label.model>.")
            self.compare_display(dataset, rows, [f.strip() for f in formats.split(",") if f])
            return
        copy = run_child(dataset, COPY, rows)
        copy_seconds = copy.get("seconds")
        self.emit({"format": COPY, **copy})
        names = [f.strip() for f in formats.split(",") if f.strip()]
        bare: dict[str, Any] = {}
        if any(name in SPREADSHEETS for name in names):
            bare = run_child(dataset, BARE_XLSX, rows)
            self.emit({"format": BARE_XLSX, **bare, **versus_copy(copy_seconds, bare)})
        for fmt in names:
            if fmt not in WRITERS:
                self.emit({"format": fmt, "error": f"{fmt!r} is not registered in WRITERS"})
                continue
            result = run_child(dataset, fmt, rows)
            line = {"format": fmt, **result, **versus_copy(copy_seconds, result)}
            if fmt in SPREADSHEETS:
                line["ratio_vs_openpyxl_bare"] = divide(bare.get("seconds"), result.get("seconds"))
            self.emit(line)

    def compare_display(self, dataset: str, rows: int, names: list[str]) -> None:
        for fmt in names:
            raw = run_child(dataset, f"raw:{fmt}", rows)
            self.emit({"mode": "raw", "format": fmt, **raw})
            shown = run_child(dataset, f"{DISPLAY}:{fmt}", rows)
            ratio = divide(raw.get("seconds"), shown.get("seconds"))
            self.emit({"mode": DISPLAY, "format": fmt, **shown, "ratio_vs_raw": ratio})

    def emit(self, line: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(line))
        self.stdout.flush()


def divide(ceiling: float | None, seconds: float | None) -> float | None:
    return round(ceiling / seconds, 3) if ceiling and seconds else None


def versus_copy(copy_seconds: float | None, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "copy_seconds": copy_seconds,
        "ratio_vs_copy": divide(copy_seconds, result.get("seconds")),
    }


def run_child(dataset: str, kind: str, rows: int) -> dict[str, Any]:
    """A fresh interpreter on this process's database; its last stdout line is the result."""
    argv, env = django_command(
        "export_bench", dataset, "--child", kind, "--rows", str(rows), **database_env()
    )
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:500]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def source_for(name: str, mode: str = "") -> Dataset:
    """A declared dataset, or a changelist as a superuser sees it (an unsaved one: nothing to
    clean up), with raw values or as shown in the admin."""
    if not name.startswith(ADMIN_PREFIX):
        return get_dataset(name)
    user = get_user_model()(is_active=True, is_superuser=True)
    dataset = changelist_dataset(name, user, "")
    return as_displayed(dataset) if mode == DISPLAY else dataset


def measure(name: str, kind: str, rows: int) -> dict[str, Any]:
    mode, _, kind = kind.rpartition(":")  # "display:csv", "raw:csv": a changelist export
    dataset = source_for(name, mode)
    with tempfile.TemporaryFile(dir=app_settings.TMP_DIR) as out:
        began = time.perf_counter()
        if kind == COPY:
            written = bare_copy(out, TableSource.build(dataset, {"limit": rows}))
        elif kind == BARE_XLSX:
            written = bare_openpyxl(out, TableSource.build(dataset, {"limit": rows}))
        else:
            written = export(out, dataset, kind, {"limit": rows}, max_rows=rows).rows
        seconds = time.perf_counter() - began
        size = out.tell()
    peak = peak_rss_mb()
    return {
        "rows": written,
        "seconds": round(seconds, 3),
        "rows_per_s": round(written / seconds) if seconds else None,
        "peak_rss_mb": round(peak, 1),
        "bytes": size,
    }


def bare_copy(out, source: TableSource) -> int:
    """The ceiling: the same rows and columns, printed by PostgreSQL, written as they come."""
    connection_, _, inner = select_sql(source)
    count = 0
    statement = f"COPY ({inner}) TO STDOUT"
    with (
        transaction.atomic(using=connection_.alias),
        connection_.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        for data in copy:
            out.write(data)
            count += 1
    return count


def bare_openpyxl(out, source: TableSource) -> int:
    """XLSX's ceiling: openpyxl write-only fed plain tuples (times made naive in SQL)."""
    from openpyxl import Workbook

    connection_, _, inner = select_sql(source)
    width = len(source.dataset.columns)
    kinds = [c.kind for c in source.dataset.columns]
    expressions = [
        f"c{i} AT TIME ZONE 'UTC'" if kind == "datetime" else f"c{i}"
        for i, kind in enumerate(kinds)
    ]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(source.name)
    sheet.append([c.heading for c in source.dataset.columns])
    count = 0
    with transaction.atomic(using=connection_.alias), connection_.cursor() as cursor:
        cursor.execute(wrap(inner, width, expressions) + " LIMIT 0")
        types = [d.type_code for d in cursor.description]
        statement = f"COPY ({wrap(inner, width, expressions)}) TO STDOUT (FORMAT binary)"
        with cursor.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in copy.rows():
                sheet.append(row)
                count += 1
    workbook.save(out)
    return count
