"""`manage.py export_bench DATASET --rows N`: each format's speed and peak memory against the
ceilings (a bare COPY for every format; for the spreadsheets, XLSX and ODS, also a bare
openpyxl write-only loop, the usual way to write a spreadsheet in Python) on the first N rows
of a registered dataset (the demo seeds its own with `seed_demo`). Every measurement runs in a
fresh subprocess, so its peak RSS is its own.

DATASET may also be a ModelAdmin's changelist, `admin:<app_label.model>` (the demo:
`admin:demo.userpoint`); `--mode display` then times that changelist exported "as shown in the
admin" against its raw values, format by format, in the same run.

A command of the demo, beside the tooling it uses (exportdesk_tools): not in the wheel."""

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test import override_settings

from exportdesk_tools.memory import peak_rss_mb
from exportdesk_tools.processes import database_env, django_command
from exports.conf import app_settings
from exports.datasets.base import Dataset
from exports.datasets.changelist import ADMIN_PREFIX, DISPLAY, as_displayed, changelist_dataset
from exports.datasets.registry import UnknownDataset, get_dataset
from exports.engine import export
from exports.engine.copysql import select_sql, wrap
from exports.engine.tables import TableSource
from exports.formats import WRITERS
from exports.formats.base import DELIMITERS

COPY = "copy"
PEER = "peer"  # django-import-export with the same columns (the `bench` extra)
PEER_FORMATS = ("csv", "xlsx")
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
        parser.add_argument(
            "--timezone", default="UTC", metavar="ZONE", help="Zone the times are written in."
        )
        parser.add_argument("--delimiter", choices=list(DELIMITERS), default="comma")
        parser.add_argument("--bom", action="store_true", help="CSV with a UTF-8 BOM.")
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="Run each measurement N times, interleaved, and keep each one's fastest run "
            "(on a busy machine the fastest is the least disturbed).",
        )
        parser.add_argument(
            "--processes",
            default="1,2",
            help="--mode display: the EXPORTS_DISPLAY_PROCESSES values to time, e.g. 1,2,8.",
        )
        parser.add_argument("--child", help=argparse.SUPPRESS)

    def handle(self, *args: Any, dataset: str, rows: int, formats: str, **opts: Any) -> None:
        try:
            source_for(dataset)
        except UnknownDataset as exc:
            raise CommandError(str(exc)) from None
        options = {"time_zone": opts["timezone"], "delimiter": opts["delimiter"]}
        options["bom"] = opts["bom"]
        if opts["child"]:
            self.stdout.write(json.dumps(measure(dataset, opts["child"], rows, options)))
            return
        if opts["mode"] == DISPLAY:
            if not dataset.startswith(ADMIN_PREFIX):
                raise CommandError("--mode display needs a changelist: admin:<app_label.model>.")
            names = [f.strip() for f in formats.split(",") if f.strip()]
            processes = [int(n) for n in opts["processes"].split(",") if n.strip()]
            self.compare_display(dataset, rows, names, options, processes, max(opts["repeat"], 1))
            return
        names = [f.strip() for f in formats.split(",") if f.strip()]
        kinds = [COPY] + ([BARE_XLSX] if any(n in SPREADSHEETS for n in names) else [])
        kinds += [n for n in names if n in WRITERS]
        load = [round(x, 2) for x in os.getloadavg()]
        best = fastest(dataset, kinds, rows, options, max(opts["repeat"], 1))
        copy, bare = best[COPY], best.get(BARE_XLSX, {})
        self.emit({"format": COPY, **copy, "load_average": load})
        if bare:
            self.emit({"format": BARE_XLSX, **bare, **versus_copy(copy, bare)})
        for fmt in names:
            if fmt not in WRITERS:
                self.emit({"format": fmt, "error": f"{fmt!r} is not registered in WRITERS"})
                continue
            result = best[fmt]
            line = {"format": fmt, **result, **versus_copy(copy, result)}
            if fmt in SPREADSHEETS:
                line["ratio_vs_openpyxl_bare"] = divide(bare.get("seconds"), result.get("seconds"))
            self.emit(line)

    def compare_display(
        self,
        dataset: str,
        rows: int,
        names: list[str],
        options: dict[str, Any],
        processes: list[int],
        repeat: int,
    ) -> None:
        """Per format a raw line and a display line: display mode with each number of
        processes (`by_processes`; the line's own figures are the most processes') and, when
        django-import-export is installed, the peer writing the same columns (`peer`,
        `ratio_vs_peer`); each the fastest of `repeat` interleaved runs."""
        load = [round(x, 2) for x in os.getloadavg()]
        for fmt in names:
            kinds = [f"raw:{fmt}"] + [f"{DISPLAY}:{fmt}:{n}" for n in processes]
            kinds += [f"{PEER}:{fmt}"] if peer_installed() and fmt in PEER_FORMATS else []
            best = fastest(dataset, kinds, rows, options, repeat)
            raw, peer = best[kinds[0]], best.get(f"{PEER}:{fmt}", {})
            self.emit({"mode": "raw", "format": fmt, **raw, "load_average": load})
            runs = {n: best[f"{DISPLAY}:{fmt}:{n}"] for n in processes}
            shown = runs[max(processes)]
            line = {"mode": DISPLAY, "format": fmt, "processes": max(processes), **shown}
            line["ratio_vs_raw"] = divide(raw.get("seconds"), shown.get("seconds"))
            if peer:
                line["ratio_vs_peer"] = divide(peer.get("seconds"), shown.get("seconds"))
            line["by_processes"] = {n: summary(run, peer) for n, run in runs.items()}
            if peer:
                line["peer"] = summary(peer, {})
            self.emit(line)

    def emit(self, line: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(line))
        self.stdout.flush()


def fastest(
    dataset: str, kinds: list[str], rows: int, options: dict[str, Any], repeat: int
) -> dict[str, dict[str, Any]]:
    """Each kind's fastest of `repeat` runs, the kinds taking turns so that a busy spell
    of the machine does not fall on one of them only."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for kind in kinds:
            result = run_child(dataset, kind, rows, options)
            if kind not in best or result.get("seconds", 1e9) < best[kind].get("seconds", 1e9):
                best[kind] = result
    return best


def summary(run: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    keys = ("rows", "seconds", "cpu_s", "rows_per_s", "peak_rss_mb", "error")
    keys += ("workers_cpu_s", "workers_peak_rss_mb")
    found = {k: run[k] for k in keys if k in run}
    if peer:
        found["ratio_vs_peer"] = divide(peer.get("seconds"), run.get("seconds"))
    return found


def divide(ceiling: float | None, seconds: float | None) -> float | None:
    return round(ceiling / seconds, 3) if ceiling and seconds else None


def versus_copy(copy: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Wall-clock ratio, and the ratio of CPU seconds (client plus PostgreSQL's backend),
    which other jobs on the machine disturb less."""
    ratios = {
        "copy_seconds": copy.get("seconds"),
        "ratio_vs_copy": divide(copy.get("seconds"), result.get("seconds")),
    }
    if "server_cpu_s" in copy and "server_cpu_s" in result:
        work = [r["cpu_s"] + r["server_cpu_s"] for r in (copy, result)]
        ratios["ratio_cpu_vs_copy"] = divide(*work)
    return ratios


def peer_installed() -> bool:
    return importlib.util.find_spec("import_export") is not None


def run_child(dataset: str, kind: str, rows: int, options: dict[str, Any]) -> dict[str, Any]:
    """A fresh interpreter on this process's database; its last stdout line is the result."""
    argv = ["export_bench", dataset, "--child", kind, "--rows", str(rows)]
    argv += ["--timezone", options["time_zone"], "--delimiter", options["delimiter"]]
    argv += ["--bom"] if options["bom"] else []
    command, env = django_command(*argv, **database_env())
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
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


def measure(name: str, kind: str, rows: int, options: dict[str, Any]) -> dict[str, Any]:
    """The CSV options apply to CSV only; the time zone to every format but the ceilings."""
    # "display:csv:2" (2 processes), "raw:csv", "peer:csv": a changelist export
    mode, _, kind = kind.partition(":") if ":" in kind else ("", "", kind)
    kind, _, processes = kind.partition(":")
    dataset = source_for(name, mode)
    if kind != "csv":
        options = {"time_zone": options["time_zone"]}
    fast = None
    backend = server_cpu_reader()
    settings_ = {"EXPORTS_DISPLAY_PROCESSES": int(processes)} if processes else {}
    with tempfile.TemporaryFile(dir=app_settings.TMP_DIR) as out, override_settings(**settings_):
        server_before, cpu_before = backend(), process_cpu()
        began = time.perf_counter()
        if mode == PEER:
            written = peer_export(out, name, kind, rows)
        elif kind == COPY:
            written = bare_copy(out, TableSource.build(dataset, {"limit": rows}))
        elif kind == BARE_XLSX:
            written = bare_openpyxl(out, TableSource.build(dataset, {"limit": rows}))
        else:
            result = export(out, dataset, kind, {"limit": rows}, options, max_rows=rows)
            written, fast = result.rows, result.fast
        seconds = time.perf_counter() - began
        cpu, server = process_cpu() - cpu_before, backend()
        size = out.tell()
    peak = peak_rss_mb()
    return {
        **({} if fast is None else {"fast_path": fast}),
        "rows": written,
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 3),
        **({} if server is None else {"server_cpu_s": round(server - server_before, 3)}),
        "rows_per_s": round(written / seconds) if seconds else None,
        "peak_rss_mb": round(peak, 1),
        **workers_peak(),
        "bytes": size,
    }


def workers_peak() -> dict[str, float]:
    """The export's worker processes (engine.parallel), if any ran: the largest peak RSS of
    one, and their CPU seconds together (cpu_s is this process's own)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not usage.ru_maxrss:
        return {}
    cpu = usage.ru_utime + usage.ru_stime
    return {"workers_peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "workers_cpu_s": round(cpu, 3)}


def peer_export(out, name: str, fmt: str, rows: int) -> int:
    """django-import-export on the same changelist, its columns declared as a ModelResource
    (demo.peer), the queryset joined with select_related as the admin's is."""
    from project.demo.peer import resource_for

    resource, queryset = resource_for(name)
    data = resource.export(queryset=queryset[:rows])
    content = data.export(fmt)
    out.write(content.encode() if isinstance(content, str) else content)
    return data.height


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_reader() -> Callable[[], float | None]:
    """CPU seconds of the PostgreSQL server serving this connection: its processes that are
    running (this connection's backend among them) and those that have ended (a CSV export's
    extra connections, engine.halves), which the server's main process counts on exit. Read
    from /proc when the server runs on this machine; None when it does not."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    ticks = os.sysconf("SC_CLK_TCK")
    backend = proc_stat(pid)
    if backend is None:  # the server is elsewhere: that pid is another process
        return lambda: None
    server = int(backend[1])

    def read() -> float | None:
        """Retried until no process ended during the scan, so none is counted twice or never."""
        while True:
            ended = ended_children_cpu(server)
            if ended is None:
                return None
            total = sum(
                int(stat[11]) + int(stat[12])  # utime, stime
                for entry in Path("/proc").iterdir()
                if entry.name.isdigit()
                and (stat := proc_stat(int(entry.name))) is not None
                and int(stat[1]) == server
            )
            if ended_children_cpu(server) == ended:
                return (ended + total) / ticks

    return read


def ended_children_cpu(server: int) -> int | None:
    main = proc_stat(server)
    return None if main is None else int(main[13]) + int(main[14])  # cutime, cstime


def proc_stat(pid: int) -> list[str] | None:
    """A PostgreSQL process's /proc/<pid>/stat fields after its name (state, ppid, ...)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if "(postgres)" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def bare_copy(out, source: TableSource) -> int:
    """The ceiling: the same rows and columns, printed by PostgreSQL, written as they come."""
    connection_, _, inner = select_sql(source)
    count = 0
    statement = f"COPY ({inner}) TO STDOUT"
    with (
        transaction.atomic(),
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
    with transaction.atomic(), connection_.cursor() as cursor:
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
