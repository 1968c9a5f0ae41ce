"""The load command runs end to end on a small scale (the real run is a command, not a test)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from exportdesk_tools.loadtest import percentile

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_small_load_run_completes_every_export_exactly_once(demo_data):
    out = StringIO()
    call_command(
        "export_load",
        "user_points",
        "--exports",
        "6",
        "--users",
        "2",
        "--workers",
        "1",
        "--rows",
        "50",
        "--timeout",
        "120",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert report["completed"] == 6
    assert report["duplicates"] == report["lost"] == report["failed"] == 0
    assert report["p50_seconds"] <= report["p95_seconds"]
    assert report["worker_peak_rss_mb"] > 10


def test_percentiles_use_the_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
