"""`manage.py export`: the admins' scripting tool, audited like every other export.

Bad input (dataset, format, filter field, JSON) is a CommandError before anything is
recorded, as a rejected request leaves no audit row; once accepted, the audit row goes
running -> completed, or failed with the reason. It beats while the export runs, so the
sweeper never takes it for a dead worker; if the process dies, the sweeper fails it.
"""

import getpass
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from exports.datasets import ConditionError, Dataset, get_dataset
from exports.engine import Result, export_tables
from exports.engine.pipeline import file_options
from exports.formats import WRITERS, get_writer
from exports.formats.base import DELIMITERS
from exports.jobs.heartbeat import Heartbeat
from exports.models import Delivery, ExportAudit, ExportStatus
from exports.signals import finished

# A command-line export runs once, in this process: attempt 1 is the only one.
ATTEMPT = 1


class Command(BaseCommand):
    help = "Export one or more datasets into one file (one sheet/file/table per dataset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("datasets", nargs="+", metavar="DATASET")
        parser.add_argument("--format", "-f", required=True, help=f"One of {', '.join(WRITERS)}.")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="JSON",
            help="Conditions as JSON; once for every dataset, or once per dataset in order.",
        )
        parser.add_argument("--limit", type=int, help="At most this many rows per dataset.")
        parser.add_argument("--data-dictionary", action="store_true")
        parser.add_argument("--sort-columns", action="store_true")
        parser.add_argument("--simplified", action="store_true")
        parser.add_argument(
            "--timezone",
            metavar="ZONE",
            help="Write times in this IANA zone (UTC, Europe/Paris...); default: TIME_ZONE.",
        )
        parser.add_argument(
            "--delimiter", choices=list(DELIMITERS), help="CSV only (default: comma)."
        )
        parser.add_argument("--bom", action="store_true", help="CSV only: UTF-8 with BOM.")
        parser.add_argument("-o", "--output", required=True, help="File to write; - for stdout.")

    def handle(self, *args: Any, **opts: Any) -> None:
        tables = self.tables(opts["datasets"], opts["filter"], opts["limit"])
        fmt = opts["format"]
        try:
            get_writer(fmt)
        except LookupError as exc:
            raise CommandError(f"{exc} Choose one of: {', '.join(WRITERS)}.") from None
        except RuntimeError as exc:  # MissingDependency
            raise CommandError(str(exc)) from None
        output = opts["output"]
        if output != "-" and not Path(output).resolve().parent.is_dir():
            raise CommandError(f"No such directory for the output file: {output!r}.")
        options = {k: opts[k] for k in ("data_dictionary", "sort_columns", "simplified")}
        try:
            options.update(file_options(fmt, opts["timezone"], opts["delimiter"], opts["bom"]))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        audit = start_audit(tables, fmt, options)
        began = time.monotonic()
        try:
            with Heartbeat(audit.pk, ATTEMPT):  # the sweeper must not take it for dead
                result, size = write_output(output, tables, fmt, options)
        except BaseException as exc:
            fail_audit(audit, exc)
            if not isinstance(exc, Exception):
                raise  # Ctrl-C: recorded, then stop as asked
            raise CommandError(f"Export failed: {exc}") from exc
        report = self.stderr if output == "-" else self.stdout
        if not running(audit).update(
            status=ExportStatus.COMPLETED,
            row_count=result.rows,
            bytes=size,
            finished_at=timezone.now(),
        ):
            report.write(f"Warning: audit row {audit.pk} was ended meanwhile; left as it is.")
        finished(audit.pk)
        seconds = time.monotonic() - began
        report.write(f"{result.rows} rows, {size} bytes, {seconds:.2f} s -> {output}")
        for note in result.notes:
            report.write(f"Note: {note}")

    def tables(
        self, names: list[str], filters: list[str], limit: int | None
    ) -> list[tuple[Dataset, dict[str, Any]]]:
        if len(filters) not in (0, 1, len(names)):
            raise CommandError("Give --filter once for all datasets, or once per dataset.")
        conditions = [parse_json(f) for f in filters] or [None]
        if len(conditions) == 1:
            conditions = conditions * len(names)
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number.")
        tables = []
        for name, condition in zip(names, conditions, strict=True):
            try:
                dataset = get_dataset(name)
                dataset.filtered(condition, limit)  # validates; runs nothing
            except LookupError as exc:
                raise CommandError(str(exc)) from None
            except ConditionError as exc:
                raise CommandError(f"Dataset {name!r}: {exc}") from None
            filters_ = {"conditions": condition} if condition is not None else {}
            tables.append((dataset, {**filters_, **({"limit": limit} if limit else {})}))
        return tables


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--filter is not valid JSON: {exc}") from None


def start_audit(
    tables: list[tuple[Dataset, dict[str, Any]]], fmt: str, options: dict[str, Any]
) -> ExportAudit:
    single, now = len(tables) == 1, timezone.now()
    return ExportAudit.objects.create(
        dataset=",".join(d.name for d, _ in tables)[:100],
        format=fmt,
        filters=tables[0][1]
        if single
        else {"tables": [{"dataset": d.name, **f} for d, f in tables]},
        options=options,
        requested_by=None,
        requested_by_display=f"cli:{getpass.getuser()}",
        delivery=Delivery.COMMAND,
        status=ExportStatus.RUNNING,
        attempts=ATTEMPT,
        started_at=now,
        heartbeat_at=now,
    )


def running(audit: ExportAudit):
    """This run's row, while nobody else (the sweeper) has ended it."""
    return ExportAudit.objects.filter(pk=audit.pk, status=ExportStatus.RUNNING, attempts=ATTEMPT)


def fail_audit(audit: ExportAudit, exc: BaseException) -> None:
    running(audit).update(
        status=ExportStatus.FAILED,
        error=(str(exc) or type(exc).__name__)[:2000],
        finished_at=timezone.now(),
    )
    finished(audit.pk)


def write_output(
    output: str, tables: list[tuple[Dataset, dict[str, Any]]], fmt: str, options: dict[str, Any]
) -> tuple[Result, int]:
    """Into a temporary file beside the target, renamed into place only when complete."""
    if output == "-":
        with tempfile.TemporaryFile() as tmp:
            result = export_tables(tmp, tables, fmt, options)
            size = copy_to(tmp, sys.stdout.buffer)
        return result, size
    target = Path(output)
    fd, partial = tempfile.mkstemp(dir=target.resolve().parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w+b") as tmp:
            result = export_tables(tmp, tables, fmt, options)
            size = tmp.tell()
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return result, size


def copy_to(tmp: BinaryIO, out: BinaryIO) -> int:
    """Writers may seek (zip formats), so stdout gets the finished file."""
    size = tmp.tell()
    tmp.seek(0)
    while block := tmp.read(1 << 20):
        out.write(block)
    out.flush()
    return size
