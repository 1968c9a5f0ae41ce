"""Counting rows as they stream, and telling a callback every N of them."""

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

DEFAULT_EVERY = 5000


class Progress:
    """Exceptions from the callback propagate: that is how a running export gets cancelled."""

    def __init__(
        self, callback: Callable[[int], None] | None = None, every: int = DEFAULT_EVERY
    ) -> None:
        self.callback = callback
        self.every = every
        self.rows = 0
        self.reported = 0
        self.per_table: list[int] = []

    def next_table(self) -> None:
        self.per_table.append(0)

    def add(self, rows: int) -> None:
        before = self.rows
        self.rows += rows
        if self.per_table:
            self.per_table[-1] += rows
        if self.rows // self.every != before // self.every:
            self.report()

    def report(self) -> None:
        """Also called once at the end, so the last figure is the final count."""
        if self.callback is not None and self.reported != self.rows:
            self.reported = self.rows
            self.callback(self.rows)

    def counted(self, rows: Iterable[T]) -> Iterator[T]:
        """Yields `rows` unchanged; counts them a chunk at a time so the per-row cost is C's."""
        for chunk in self.chunks(rows):
            yield from chunk

    def chunks(self, rows: Iterable[T]) -> Iterator[list[T]]:
        """The same rows as lists of up to `every`, counted as they are handed over.
        Stopping early closes `rows`, so an open COPY ends before its transaction does."""
        iterator = iter(rows)
        try:
            while chunk := list(islice(iterator, self.every)):
                yield chunk
                self.add(len(chunk))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
