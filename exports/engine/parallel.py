"""A changelist "as shown in the admin" read on several cores (EXPORTS_DISPLAY_PROCESSES).

Display mode spends its time in Python, per row: a model instance and its joined objects,
then each list_display entry. One process uses one core, so a big table is split into key
ranges of the changelist's own query, in its own order; each range is read and rendered in a
forked worker process, on a connection of its own that shares the export's snapshot (as
engine.halves does for COPY), and its rows come back to the one writer in order through a
scratch file. The writer is the one a single process uses, so the file is byte for byte the
same; only the reading and the list_display callables run in parallel.

Split only where that is exact and pays: PostgreSQL, a transaction that has written nothing
(its snapshot can be shared), a changelist ordered by its primary key alone (ascending or
descending: the admin's default), at least EXPORTS_SPLIT_COPY_ROWS rows, and fork() at hand.
Anything else is read as today, in the export's process.
"""

import contextlib
import ctypes
import os
import pickle
import signal
import struct
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, transaction
from psycopg import sql

from exports.conf import app_settings
from exports.datasets.changelist import DisplayDataset
from exports.engine.copysql import inline
from exports.engine.halves import snapshot_connection
from exports.engine.tables import TableSource

NOTICE = struct.Struct("q")  # one per chunk on the worker's pipe: its size in the scratch file
CHUNK = 1000  # rows per pickled chunk
DONE = 0
PR_SET_PDEATHSIG = 1
DEFAULT_MAX_PROCESSES = 8


@dataclass(frozen=True)
class Part:
    """Rows after key `after` (None: from the first) up to key `upto` included (None: to the
    last), in the changelist's order; `rows` of them."""

    after: Any
    upto: Any
    rows: int


@dataclass(frozen=True)
class Plan:
    alias: str
    snapshot: str
    descending: bool
    parts: tuple[Part, ...]
    # The changelist's query before any limit, built (replayed) once, here: the workers
    # inherit it and only narrow it.
    base: models.QuerySet


def display_processes() -> int:
    """EXPORTS_DISPLAY_PROCESSES, else this machine's cores up to DEFAULT_MAX_PROCESSES."""
    configured = app_settings.DISPLAY_PROCESSES
    if configured is not None:
        return max(int(configured), 1)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(cores, DEFAULT_MAX_PROCESSES)


def display_rows(source: TableSource) -> Iterator[Sequence[Any]]:
    """The table's rows as source.python_rows() gives them, from several processes when the
    plan allows."""
    plan = plan_for(source) if isinstance(source.dataset, DisplayDataset) else None
    if plan is None:
        return source.python_rows()
    return parted_rows(source, plan)


def plan_for(source: TableSource) -> Plan | None:
    processes, threshold = display_processes(), app_settings.SPLIT_COPY_ROWS
    if processes < 2 or not threshold or not hasattr(os, "fork"):
        return None
    qs = source.dataset.filtered(source.conditions, source.limit)
    connection = connections[qs.db]
    descending = key_order(qs)
    if (
        descending is None
        or connection.vendor != "postgresql"
        or not connection.in_atomic_block
        or connection.savepoint_ids
    ):
        return None
    snapshot = shared_snapshot(qs.db)
    if snapshot is None:
        return None
    base = source.dataset.filtered(source.conditions)
    parts = split(qs, base, snapshot, processes, threshold)
    return None if parts is None else Plan(qs.db, snapshot, descending, parts, base)


def key_order(qs: models.QuerySet) -> bool | None:
    """False: ordered by the primary key ascending; True: descending; None: by anything else
    (or a query a key range cannot narrow), which is read in one process."""
    query = qs.query
    meta = qs.model._meta
    if query.combinator or query.distinct or query.extra_order_by:
        return None
    if len(getattr(meta, "pk_fields", [meta.pk])) != 1:
        return None
    order = query.order_by or (meta.ordering if query.default_ordering else ())
    if len(order) != 1 or not isinstance(order[0], str):
        return None
    name = order[0].removeprefix("-")
    if name not in ("pk", meta.pk.name, meta.pk.attname):
        return None
    return order[0].startswith("-")


def shared_snapshot(alias: str) -> str | None:
    """The export transaction's snapshot for other connections; None when it cannot be shared
    (the transaction has written, or the server is a standby)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_xact_id_if_assigned() IS NULL AND NOT pg_is_in_recovery()"
        )
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT pg_export_snapshot()")
        return cursor.fetchone()[0]


def split(
    qs: models.QuerySet, base: models.QuerySet, snapshot: str, processes: int, threshold: int
) -> tuple[Part, ...] | None:
    """`processes` ranges of about count/processes rows of `qs` (`base`, its rows before any
    limit), counted in the snapshot the workers read; each bound is the last key of its range,
    found by its row number in the changelist's order. None: too few rows to pay."""
    try:
        with closing(snapshot_connection(qs.db, snapshot)) as raw:
            (count,) = raw.execute(count_sql(qs)).fetchone()
            if count < max(threshold, 2):
                return None
            size = -(-count // processes)
            parts, after = [], None
            for start in range(0, count, size):
                rows = min(size, count - start)
                upto = None
                if start + rows < count:
                    n = start + rows - 1
                    (upto,) = raw.execute(keys_sql(base[n : n + 1])).fetchone()
                parts.append(Part(after, upto, rows))
                after = upto
    except EmptyResultSet:
        return None
    return tuple(parts)


def count_sql(qs: models.QuerySet) -> str:
    return f"SELECT count(*) FROM ({keys_sql(qs)}) AS q"  # noqa: S608 - inlined by psycopg


def keys_sql(qs: models.QuerySet) -> str:
    keys = qs.prefetch_related(None).values_list("pk", flat=True)
    query, params = keys.query.get_compiler(using=qs.db).as_sql()
    return inline(connections[qs.db], query, params)


def narrowed(qs: models.QuerySet, part: Part, descending: bool) -> models.QuerySet:
    """The changelist's query (its filters, its order) narrowed to one range."""
    before, beyond = ("pk__lt", "pk__gte") if descending else ("pk__gt", "pk__lte")
    if part.after is not None:
        qs = qs.filter(**{before: part.after})
    if part.upto is not None:
        qs = qs.filter(**{beyond: part.upto})
    return qs[: part.rows]


def parted_rows(source: TableSource, plan: Plan) -> Iterator[Sequence[Any]]:
    """Each range rendered by a worker of its own, all at once; their rows in order."""
    with contextlib.ExitStack() as stack:
        workers = []
        for part in plan.parts:
            spool = stack.enter_context(tempfile.TemporaryFile(dir=app_settings.TMP_DIR))
            workers.append(start_worker(source, plan, part, spool.fileno()))
        stack.callback(stop_workers, [pid for pid, _ in workers])
        for pid, (notices, spool_fd) in workers:
            with os.fdopen(notices, "rb") as pipe:
                yield from worker_rows(pipe, spool_fd, pid)


def worker_rows(pipe: Any, spool_fd: int, pid: int) -> Iterator[Sequence[Any]]:
    """A worker's chunks as it finishes them; its error raised here, in the export."""
    offset = 0
    while True:
        notice = pipe.read(NOTICE.size)
        if len(notice) < NOTICE.size:
            raise RuntimeError(f"A display worker (pid {pid}) ended without finishing its rows.")
        (size,) = NOTICE.unpack(notice)
        if size == DONE:
            return
        data = os.pread(spool_fd, abs(size), offset)
        offset += abs(size)
        if size < 0:
            raise pickle.loads(data)  # noqa: S301 - our own worker wrote it
        yield from pickle.loads(data)  # noqa: S301


def stop_workers(pids: list[int]) -> None:
    """Workers still running (the export failed or stopped early) are killed; all reaped."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def start_worker(
    source: TableSource, plan: Plan, part: Part, spool_fd: int
) -> tuple[int, tuple[int, int]]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        os.close(read_end)
        status = 1
        try:
            run_worker(source, plan, part, spool_fd, write_end)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, (read_end, spool_fd)


def run_worker(source: TableSource, plan: Plan, part: Part, spool_fd: int, notices: int) -> None:
    """In the forked process: the range's rows, pickled a chunk at a time into the spool,
    each announced on the pipe; an error is pickled for the export to raise."""
    die_with_parent()
    fresh_connections()
    try:
        with transaction.atomic(using=plan.alias):
            join_snapshot(plan.alias, plan.snapshot)
            queryset = narrowed(plan.base, part, plan.descending)
            rows = reordered(source.dataset.rows_of(queryset), source)
            chunk: list[Sequence[Any]] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    send(spool_fd, notices, pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
                    chunk = []
            if chunk:
                send(spool_fd, notices, pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # noqa: BLE001 - handed to the export, which raises it
        send(spool_fd, notices, picklable(exc), error=True)
        return
    os.write(notices, NOTICE.pack(DONE))


def reordered(rows: Iterator[Sequence[Any]], source: TableSource) -> Iterator[Sequence[Any]]:
    if not source.reordered:
        return rows
    return ([row[i] for i in source.order] for row in rows)


def send(spool_fd: int, notices: int, data: bytes, *, error: bool = False) -> None:
    os.write(spool_fd, data)  # the worker's own end of the file: appends
    os.write(notices, NOTICE.pack(-len(data) if error else len(data)))


def picklable(exc: Exception) -> bytes:
    """The error as the export will raise it; one holding what does not pickle (a lazy
    translation) as the same kind of error with its text, rendered here."""
    for candidate in (exc, lambda: type(exc)(str(exc))):
        try:
            error = candidate() if callable(candidate) else candidate
            return pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001, S112 - try the plainer form
            continue
    return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))


def die_with_parent() -> None:
    """Linux: a worker whose export was killed (a queue's timeout) is killed too."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# The parent's connections, inherited by fork: kept referenced and never closed (closing
# would end the parent's sessions on the server); the worker leaves through os._exit().
INHERITED: list[Any] = []


def fresh_connections() -> None:
    for alias in connections:
        INHERITED.append(connections[alias])
        connections[alias] = connections.create_connection(alias)


def join_snapshot(alias: str, snapshot: str) -> None:
    """The first statements of the worker's transaction: it sees what the export sees."""
    raw = connections[alias].cursor().cursor.connection
    raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    raw.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
