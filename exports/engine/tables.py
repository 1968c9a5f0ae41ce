"""One table of an export: a dataset, its filters, its row limit and its columns in output order."""

import dataclasses
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from exports.datasets.base import Column, Dataset
from exports.formats.base import Table


@dataclass(frozen=True)
class TableSource:
    dataset: Dataset
    name: str  # unique within one export file
    conditions: Any = None
    limit: int | None = None
    order: tuple[int, ...] = ()  # positions in dataset.columns, in output order
    capped: bool = False  # the limit is the row cap's, not the request's
    # Part of the table only (engine.halves): primary keys above the first bound (None: from
    # the start) up to and including the second (None: to the end).
    pk_range: tuple[Any, Any] = (None, None)

    @classmethod
    def build(
        cls,
        dataset: Dataset,
        filters: dict[str, Any] | None,
        *,
        name: str | None = None,
        max_rows: int | None = None,
        sort_columns: bool = False,
    ) -> "TableSource":
        """Validates the filters now (ConditionError), before any byte is written."""
        filters = filters or {}
        asked = int(filters["limit"]) if filters.get("limit") else None
        caps = [int(c) for c in (getattr(dataset, "max_rows", None), max_rows) if c]
        cap = min(caps, default=None)
        limit = min((n for n in (asked, cap) if n is not None), default=None)
        positions = range(len(dataset.columns))
        if sort_columns:
            headings = [str(c.heading) for c in dataset.columns]
            positions = sorted(positions, key=lambda i: (headings[i].casefold(), headings[i]))
        conditions = filters.get("conditions")
        dataset.filtered(conditions, limit)  # raises ConditionError; runs nothing
        capped = cap is not None and limit == cap and (asked is None or asked > cap)
        return cls(dataset, name or dataset.name, conditions, limit, tuple(positions), capped)

    def queryset(self) -> QuerySet:
        """The table's rows in primary key order: its filters, its part, its limit."""
        if self.pk_range == (None, None):
            return self.dataset.filtered(self.conditions, self.limit)
        after, upto = self.pk_range
        qs = self.dataset.filtered(self.conditions)
        qs = qs if after is None else qs.filter(pk__gt=after)
        qs = qs if upto is None else qs.filter(pk__lte=upto)
        return qs[: self.limit] if self.limit else qs

    @property
    def columns(self) -> tuple[Column, ...]:
        """Headings as text in the active language: a field's verbose_name is lazy."""
        return tuple(in_words(self.dataset.columns[i]) for i in self.order)

    @property
    def table(self) -> Table:
        return Table(self.name, self.columns)

    @property
    def reordered(self) -> bool:
        return self.order != tuple(range(len(self.order)))

    def python_rows(self) -> Iterator[Sequence[Any]]:
        """Django's own iterator: works on every database, slower than COPY."""
        rows = self.dataset.rows(self.conditions, self.limit)
        if not self.reordered:
            return rows
        if len(self.order) == 1:
            return ((row[self.order[0]],) for row in rows)
        return map(operator.itemgetter(*self.order), rows)


def in_words(column: Column) -> Column:
    """The column with its heading and description rendered now (writers need str)."""
    return dataclasses.replace(
        column, heading=str(column.heading), description=str(column.description)
    )
