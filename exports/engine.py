"""The export engine: one dataset, one format, rows streamed into a binary file object.

Every delivery (background job, command line, immediate response) goes through export().
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.db import transaction

from exports.datasets import Dataset
from exports.formats import Options, Table, get_writer


@dataclass
class Result:
    rows: int
    extension: str
    content_type: str
    notes: list[str] = field(default_factory=list)


def export(
    out: BinaryIO,
    dataset: Dataset,
    fmt: str,
    filters: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Result:
    filters = filters or {}
    writer_class = get_writer(fmt)
    # A transaction keeps PostgreSQL's cursor server-side and unmaterialised.
    with transaction.atomic():
        rows = dataset.rows(filters.get("conditions"), filters.get("limit"))
        writer = writer_class(out, Options(**(options or {})))
        count = writer.write_table(Table(dataset.name, dataset.columns), rows)
        writer.close()
    return Result(count, writer_class.extension, writer_class.content_type)
