"""Shared awkward rows for the format tests, and helpers that run the writers (no tests here)."""

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from exports.datasets.base import Column
from exports.formats import get_writer
from exports.formats.base import Options, Table, Writer

AWKWARD_TEXT = [
    "plain",
    "comma, inside",
    'quote " inside',
    "new\nline",
    "tab\tinside",
    "unicode é ü 中文 😀",
    "=1+1",
    "+SUM(A1)",
    "-2+3",
    "@x",
    "-5",
    "",
    "  two  spaces ",
    "#N/A",
    "back\\slash",
]
BIG = 2**62 + 1
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

COLUMNS = (
    Column("id", "id", "=ID", "The row's number.", "integer"),
    Column("name", "name", "Name", "Awkward text.", "text"),
    Column("amount", "amount", "Amount", "Money.", "decimal"),
    Column("ratio", "ratio", "Ratio", "", "float"),
    Column("active", "active", "Active", "", "boolean"),
    Column("created", "created", "Created", "", "datetime"),
    Column("day", "day", "Day", "", "date"),
    Column("data", "data", "Data", "", "json"),
)
TABLE = Table("points", COLUMNS)
OTHER = Table("other table", (COLUMNS[0], COLUMNS[1]))


def make_rows() -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [
        (
            i + 1,
            text,
            Decimal(f"-{i}.50"),
            i / 4,
            i % 2 == 0,
            WHEN.replace(microsecond=i * 1000),
            date(2026, 1, i + 1),
            {"text": text, "n": [i, None]},
        )
        for i, text in enumerate(AWKWARD_TEXT)
    ]
    rows.append((100, None, None, None, None, None, None, None))
    rows.append((BIG, "big", Decimal("12345678.125"), -1.5, False, WHEN, date(2026, 12, 31), []))
    return rows


ROWS = make_rows()
OTHER_ROWS = [(1, "first"), (2, "=second")]


def render(
    fmt: str,
    tables: Sequence[tuple[Table, Iterable[Sequence[Any]]]] = ((TABLE, ROWS),),
    options: Options | None = None,
    dictionary: bool = False,
) -> tuple[bytes, Writer]:
    out = io.BytesIO()
    writer = get_writer(fmt)(out, options or Options(data_dictionary=dictionary))
    for table, rows in tables:
        assert writer.write_table(table, iter(rows)) == len(list(rows))
    if dictionary:
        writer.write_dictionary([t for t, _ in tables])
    writer.close()
    return out.getvalue(), writer


def save(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def soffice(jobs: Sequence[tuple[Sequence[Path], str, Path, str]]) -> None:
    """Run several LibreOffice conversions side by side, each with its own profile.

    A job is (files, --convert-to target, outdir, --infilter or ""). LibreOffice exits 0
    even when it failed, so callers assert on the files it should have made.
    """
    runs = []
    for files, target, outdir, infilter in jobs:
        profile = Path(tempfile.mkdtemp(prefix="exportdesk-lo-"))
        command = [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{profile}",
            *([f"--infilter={infilter}"] if infilter else []),
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            *map(str, files),
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append((process, profile))
    for process, profile in runs:
        process.wait(timeout=300)
        shutil.rmtree(profile, ignore_errors=True)


def env_c_locale() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C", "LANG": "C"}
