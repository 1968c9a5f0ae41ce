"""Writers stream: peak memory does not grow with the number of rows.

Each format runs in its own process (all side by side): a small export, then one ten times
bigger; VmHWM is the process's peak, so a writer that kept rows would raise it by tens
of megabytes. No timing is involved.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exports.formats import WRITERS

ROOT = Path(__file__).resolve().parent.parent
SMALL, BIG = 10_000, 100_000
# openpyxl writes about ten times slower than the others; a smaller run keeps the suite fast.
XLSX_SMALL, XLSX_BIG = 2_000, 20_000
PEAK_LIMIT_MB = 120
GROWTH_LIMIT_MB = 12

PROBE = r"""
import json, sys, tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import django
django.setup()
from exports.datasets.base import Column
from exports.formats import get_writer
from exports.formats.base import Options, Table
from exportdesk_tools.memory import peak_rss_mb

fmt, sizes = sys.argv[1], [int(n) for n in sys.argv[2:]]
kinds = ["integer", "text", "decimal", "float", "boolean", "datetime", "date", "json", "text"]
table = Table("t", tuple(Column(f"c{i}", f"c{i}", f"C{i}", "", k) for i, k in enumerate(kinds)))
start = datetime(2026, 1, 1, tzinfo=UTC)

def rows(n):
    for i in range(n):
        moment = start + timedelta(seconds=i)
        yield (i, f"user {i} with some text", Decimal(i) / 100, i / 3, i % 2 == 0, moment,
               moment.date(), {"i": i, "tags": ["a", "b"]}, "=formula" if i % 7 else None)

peaks = []
for n in sizes:
    with tempfile.TemporaryFile() as out:
        writer = get_writer(fmt)(out, Options(data_dictionary=True))
        writer.write_table(table, rows(n))
        writer.write_dictionary([table])
        writer.close()
    peaks.append(peak_rss_mb())
print(json.dumps(peaks))
"""


@pytest.fixture(scope="module")
def peaks() -> dict[str, list[float]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "PYTHONPATH": str(ROOT)}
    runs = {}
    for fmt in WRITERS:
        sizes = (XLSX_SMALL, XLSX_BIG) if fmt == "xlsx" else (SMALL, BIG)
        command = [sys.executable, "-c", PROBE, fmt, *map(str, sizes)]
        runs[fmt] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE)
    found = {}
    for fmt, process in runs.items():
        stdout, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"{fmt} probe failed"
        found[fmt] = json.loads(stdout)
    return found


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_peak_memory_stays_flat_as_rows_grow_tenfold(peaks, fmt):
    small, big = peaks[fmt]
    assert big - small < GROWTH_LIMIT_MB, f"{fmt}: {small:.0f} MB -> {big:.0f} MB"
    assert big < PEAK_LIMIT_MB
