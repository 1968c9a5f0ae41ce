"""The export engine: datasets in, one file out, rows streamed into a binary file object.

Every delivery (background job, command line, immediate response) goes through here. On
PostgreSQL rows come from COPY: whole files for the text formats (fastpath), typed rows for
the rest (rowsource); elsewhere from Django's iterator.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext

from exports.conf import app_settings
from exports.datasets import capture
from exports.datasets.base import Dataset
from exports.engine.fastpath import fast_path, unique_name
from exports.engine.progress import DEFAULT_EVERY, Progress
from exports.engine.rowsource import table_rows
from exports.engine.tables import TableSource
from exports.formats import Options, Writer, get_writer
from exports.formats.base import delimiter_of, zone_named

Filters = dict[str, Any]


@dataclass
class Result:
    rows: int
    extension: str
    content_type: str
    notes: list[str] = field(default_factory=list)
    fast: bool = False  # PostgreSQL's COPY wrote the whole file (engine.fastpath)


def row_cap(immediate: bool = False) -> int:
    """The hard ceiling on rows per table, whatever the filters ask for."""
    if immediate:
        return app_settings.MAX_ROWS_IMMEDIATE
    return app_settings.MAX_ROWS_BACKGROUND


def export(
    out: BinaryIO,
    dataset: Dataset,
    fmt: str,
    filters: Filters | None = None,
    options: dict[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_rows: int | None = None,
    scratch_dir: str | None = None,
) -> Result:
    return export_tables(
        out, [(dataset, filters)], fmt, options, on_progress, max_rows, scratch_dir=scratch_dir
    )


def export_tables(
    out: BinaryIO,
    tables: Sequence[tuple[Dataset, Filters | None]],
    fmt: str,
    options: dict[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_rows: int | None = None,
    progress_every: int = DEFAULT_EVERY,
    scratch_dir: str | None = None,
) -> Result:
    """One sheet/file/table per (dataset, filters). Raises UnknownFormat, MissingDependency
    or ConditionError before the first byte; exceptions from on_progress propagate.
    Writers keep their scratch files in `scratch_dir`, by default EXPORTS_TMP_DIR."""
    if not tables:
        raise ValueError("An export needs at least one dataset.")
    writer_class = get_writer(fmt)
    opts = replace(
        to_options(options, multi_table=len(tables) > 1),
        scratch_dir=scratch_dir or app_settings.TMP_DIR,
    )
    sources = build_sources(tables, row_cap() if max_rows is None else max_rows, opts)
    progress = Progress(on_progress, progress_every)
    notes: list[str] = []
    # A transaction keeps PostgreSQL's cursors server-side and unmaterialised: one on every
    # database the tables are read from (a router may send a model to another alias).
    with reading(sources):
        path = fast_path(fmt, opts)
        fast = path is not None and path(out, sources, opts, progress)
        if not fast:
            notes = write_with(writer_class(out, opts), sources, opts, progress)
        progress.report()
    notes.extend(cap_notes(sources, progress.per_table))
    notes[:0] = selection_notes(tables, progress.per_table)
    return Result(
        progress.rows, writer_class.extension, writer_class.content_type, notes, fast=fast
    )


@contextmanager
def reading(sources: Sequence[TableSource]) -> Iterator[None]:
    """A transaction keeps PostgreSQL's cursors server-side and unmaterialised. SQLite needs
    none, and its IMMEDIATE transactions would hold the write lock for the whole export,
    locking out its own progress, its heartbeat and every other writer."""
    with ExitStack() as stack:
        for alias in sorted({s.dataset.get_queryset().db for s in sources}):
            if connections[alias].vendor != "sqlite":
                stack.enter_context(transaction.atomic(using=alias))
        yield


def write_with(
    writer: Writer, sources: Sequence[TableSource], opts: Options, progress: Progress
) -> list[str]:
    for source in sources:
        progress.next_table()
        with closing(progress.counted(table_rows(source))) as rows:
            writer.write_table(source.table, rows)
    write_dictionary = getattr(writer, "write_dictionary", None)
    if opts.data_dictionary and write_dictionary is not None:
        write_dictionary([s.table for s in sources])
    writer.close()
    return list(getattr(writer, "notes", []))


# Options that are not on/off flags.
TEXT_OPTIONS = ("time_zone", "delimiter")


def to_options(options: dict[str, Any] | None, *, multi_table: bool) -> Options:
    """Known option names become Options fields, anything else goes to `extra`. Without a
    time zone the export takes the current one: the site's TIME_ZONE, or the zone the host
    activated for the request. Raises ValueError for an unknown zone or delimiter."""
    known = {f.name for f in fields(Options)} - {"extra", "scratch_dir"}
    given = dict(options or {})
    extra = {k: given.pop(k) for k in list(given) if k not in known}
    extra.update(given.pop("extra", None) or {})
    if multi_table:
        extra["multi_table"] = True
    typed = {
        k: str(v) if k in TEXT_OPTIONS else bool(v)
        for k, v in given.items()
        if v is not None or k not in TEXT_OPTIONS  # None: the default
    }
    typed.setdefault("time_zone", current_zone_name())
    zone_named(typed["time_zone"])
    delimiter_of(typed.get("delimiter", "comma"))
    return Options(**typed, extra=extra)


def file_options(
    fmt: str, time_zone: str | None = None, delimiter: str | None = None, bom: bool = False
) -> dict[str, Any]:
    """What an export's options record about its file: the zone its times are written in
    (given, else the current one: the worker then writes the zone the requester had) and,
    for CSV only, the BOM and the delimiter when not the defaults. ValueError names a bad one."""
    zone = time_zone or current_zone_name()
    zone_named(zone)
    if delimiter is not None:
        delimiter_of(delimiter)
    if (bom or delimiter not in (None, "comma")) and fmt != "csv":
        raise ValueError(
            gettext("The BOM and the delimiter are CSV options; this export is not CSV.")
        )
    options: dict[str, Any] = {"time_zone": zone}
    if bom:
        options["bom"] = True
    if delimiter not in (None, "comma"):
        options["delimiter"] = delimiter
    return options


def current_zone_name() -> str:
    """The active zone's IANA name; a zone without one (a fixed offset) means the site's."""
    return getattr(timezone.get_current_timezone(), "key", None) or settings.TIME_ZONE


def build_sources(
    tables: Sequence[tuple[Dataset, Filters | None]], cap: int, opts: Options
) -> list[TableSource]:
    taken: set[str] = set()
    return [
        TableSource.build(
            dataset,
            filters,
            name=unique_name(dataset.name, taken),
            max_rows=cap,
            sort_columns=opts.sort_columns,
        )
        for dataset, filters in tables
    ]


def selection_notes(
    tables: Sequence[tuple[Dataset, Filters | None]], counts: Sequence[int]
) -> list[str]:
    """What each table holds against what the user chose in the changelist, when they did."""
    found = []
    for (_, filters), count in zip(tables, counts, strict=True):
        selected = (filters or {}).get(capture.SELECTED)
        if selected is not None:
            ticked = bool((filters or {}).get("conditions"))
            found.append(capture.selection_note(int(selected), count, ticked))
    return found


def cap_notes(sources: Sequence[TableSource], counts: Sequence[int]) -> list[str]:
    """Say so when a table may have been cut short by the row cap rather than by the filters."""
    text = gettext("%(table)s: stopped at the row cap of %(limit)s rows; there may be more.")
    return [
        text % {"table": s.name, "limit": f"{s.limit:,}"}
        for s, count in zip(sources, counts, strict=True)
        if s.capped and count >= (s.limit or 0)
    ]
