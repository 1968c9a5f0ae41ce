import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from exports.formats.base import Table, Writer, neutralise, text_cell


class CsvWriter(Writer):
    extension = "csv"
    content_type = "text/csv"

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        # Buffered in the wrapper (detach() flushes): one write per few KB, not one per row.
        text = io.TextIOWrapper(self.out, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(neutralise(c.heading) for c in table.columns)
        count = 0
        for row in rows:
            writer.writerow([text_cell(v) for v in row])
            count += 1
        text.detach()
        return count
