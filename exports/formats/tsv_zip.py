"""A ZIP with one tab-separated file per table, quoted like CSV so tabs and newlines survive."""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from exports.formats.base import Table, Writer, neutralise, text_cell

BAD_FILE_CHARS = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


def file_stem(name: str) -> str:
    return BAD_FILE_CHARS.sub("_", name).strip(" .") or "table"


class TsvZipWriter(Writer):
    extension = "zip"
    content_type = "application/zip"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zip = zipfile.ZipFile(self.out, "w", zipfile.ZIP_DEFLATED)

    def write_table(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        name = self.unique_name(file_stem(table.name)) + ".tsv"
        # force_zip64: the size is unknown while streaming and may pass 4 GB.
        with self.zip.open(name, "w", force_zip64=True) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="")
            writer = csv.writer(text, delimiter="\t")
            writer.writerow(neutralise(c.heading) for c in table.columns)
            count, zone = 0, self.zone
            for row in rows:
                writer.writerow([text_cell(v, zone) for v in row])
                count += 1
            text.flush()
            text.detach()
        return count

    def close(self) -> None:
        self.zip.close()
