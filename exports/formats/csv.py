import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from exports.formats.base import Table, Writer, delimiter_of, neutralise, text_cell

# UTF-8's byte order mark: what tells Excel that a CSV file is UTF-8.
BOM = "\ufeff".encode()


class CsvWriter(Writer):
    extension = "csv"
    content_type = "text/csv"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delimiter = delimiter_of(self.options.delimiter)
        if self.options.bom:
            self.out.write(BOM)

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        # Buffered in the wrapper (detach() flushes): one write per few KB, not one per row.
        text = io.TextIOWrapper(self.out, encoding="utf-8", newline="")
        writer = csv.writer(text, delimiter=self.delimiter)
        writer.writerow(neutralise(c.heading) for c in table.columns)
        count, zone = 0, self.zone
        for row in rows:
            writer.writerow([text_cell(v, zone) for v in row])
            count += 1
        text.detach()
        return count
