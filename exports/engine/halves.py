"""A big CSV table read as two halves at once, each on a connection of its own that shares the
export's snapshot (as `pg_dump --jobs` shares one between tables): PostgreSQL's per-row work
(the neutralising, the ISO times, the CSV quoting) runs on two cores instead of one.

Datasets are ordered by primary key, so the halves are the rows up to one key and the rows
after it. The first half streams into the file; the second is written, finished, to a scratch
file meanwhile and follows it. Only the export's thread reports progress."""

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import replace
from typing import Any

import psycopg
from django.db import DatabaseError, connections
from psycopg import sql

from exports.conf import app_settings
from exports.engine.copysql import inline
from exports.engine.copystream import Copy, copy_chunks, copy_lines, part_of, started
from exports.engine.progress import Progress
from exports.engine.tables import TableSource

Lines = list[memoryview]
logger = logging.getLogger(__name__)
SPOOL_READ = 1 << 20


def copy_blocks(
    copy: Copy, progress: Progress, block: Callable[[Lines], bytes], scratch_dir: str | None
) -> Iterator[bytes]:
    """block(lines) for every chunk of the table's lines, in order: read as two halves when
    the planner expects EXPORTS_SPLIT_COPY_ROWS rows or more, on one connection otherwise."""
    with ExitStack() as stack:
        halves = split(copy, stack)
        if halves is None:
            yield from map(block, copy_lines(copy, progress))
            return
        progress.next_table()
        spool = stack.enter_context(tempfile.TemporaryFile(dir=scratch_dir))
        second = stack.enter_context(spooled(*halves[1], block, spool, progress.every))
        first_connection, first = halves[0]
        with first_connection.cursor() as cursor, started(cursor, first) as rows:
            for lines in copy_chunks(rows, progress.every):
                second.check()
                yield block(lines)
                progress.add(len(lines) + second.take_counted())
        second.wait()
        progress.add(second.take_counted())
        spool.seek(0)
        while data := spool.read(SPOOL_READ):
            yield data


class Spooler(threading.Thread):
    """Writes the second half's blocks to the spool and counts its rows."""

    def __init__(
        self, connection: Any, copy: Copy, block: Callable[[Lines], bytes], spool: Any, every: int
    ) -> None:
        super().__init__(name="exportdesk-second-half", daemon=True)
        self.connection, self.copy, self.block = connection, copy, block
        self.spool, self.every = spool, every
        self.counted, self.failed = 0, None
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            with self.connection.cursor() as cursor, started(cursor, self.copy) as rows:
                for lines in copy_chunks(rows, self.every):
                    self.spool.write(self.block(lines))
                    with self.lock:
                        self.counted += len(lines)
        except BaseException as exc:  # noqa: BLE001 - raised again in the export's thread
            self.failed = exc

    def take_counted(self) -> int:
        with self.lock:
            counted, self.counted = self.counted, 0
        return counted

    def check(self) -> None:
        if self.failed is not None:
            raise self.failed

    def wait(self) -> None:
        self.join()
        self.check()


@contextmanager
def spooled(
    connection: Any, copy: Copy, block: Callable[[Lines], bytes], spool: Any, every: int
) -> Iterator[Spooler]:
    """The second half running; on the way out (an error, a cancelled export) its COPY is
    cancelled on the server and the thread waited for."""
    spooler = Spooler(connection, copy, block, spool, every)
    spooler.start()
    try:
        yield spooler
    finally:
        if spooler.is_alive():
            connection.cancel()
            spooler.join()


def split(copy: Copy, stack: ExitStack) -> tuple[tuple[Any, Copy], tuple[Any, Copy]] | None:
    """Two (psycopg connection, COPY) halves of the table, both in the snapshot of the export's
    transaction; None when splitting would not pay or could not be exact: a small table, an
    export in autocommit or in a savepoint (a snapshot can be exported from neither), a
    transaction that has written (its own rows are invisible to other connections), a standby."""
    threshold = app_settings.SPLIT_COPY_ROWS
    connection = connections[copy.alias]
    if (
        not threshold
        or copy.select is None
        or not connection.in_atomic_block
        or connection.savepoint_ids
        or not ordered_by_one_key(copy.source)
    ):
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {copy.select}")
        expected = int(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
        if expected < max(threshold, 2):
            return None
        cursor.execute(
            "SELECT pg_current_xact_id_if_assigned() IS NULL AND NOT pg_is_in_recovery()"
        )
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
    size = expected // 2
    try:
        first = stack.enter_context(closing(snapshot_connection(copy.alias, snapshot)))
        middle = last_key_of_first_half(first, copy, size)
        if middle is None:  # fewer rows than the planner expected: not worth a second one
            first.close()
            return None
        second = stack.enter_context(closing(snapshot_connection(copy.alias, snapshot)))
    except (DatabaseError, psycopg.Error):
        logger.warning("%s is read on one connection.", copy.source.name, exc_info=True)
        return None
    source = copy.source
    upto = replace(source, pk_range=(None, middle), limit=None)
    rest = None if source.limit is None else source.limit - size
    after = replace(source, pk_range=(middle, None), limit=rest)
    return (first, part_of(copy, upto)), (second, part_of(copy, after))


def ordered_by_one_key(source: TableSource) -> bool:
    """Rows ordered by nothing but a primary key of one column: a key then splits them."""
    qs = source.dataset.filtered(source.conditions)
    meta = qs.model._meta
    return qs.query.order_by == ("pk",) and len(getattr(meta, "pk_fields", [meta.pk])) == 1


def snapshot_connection(alias: str, snapshot: str) -> Any:
    """A new connection to the alias's database (set up as Django sets up its own), in a
    read-only REPEATABLE READ transaction that sees exactly the given snapshot."""
    wrapper = connections.create_connection(alias)
    wrapper.ensure_connection()
    raw = wrapper.connection
    raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    raw.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    return raw


def last_key_of_first_half(raw: Any, copy: Copy, size: int) -> Any:
    """The primary key of the table's row number `size` (None: it has fewer rows): the rows up
    to it, exactly `size` of them, are the first half."""
    connection = connections[copy.alias]
    keys = copy.source.queryset().values_list("pk", flat=True)[size - 1 : size]
    query, params = keys.query.get_compiler(using=copy.alias).as_sql()
    row = raw.execute(inline(connection, query, params)).fetchone()
    return None if row is None else row[0]
