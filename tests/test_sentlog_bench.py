"""`sentlog_bench` on a small table: it measures what it says and leaves nothing behind."""

import json

import pytest
from django.core.management import call_command

from exports.models import DeliveryLog, SavedExport, SentRange

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.mark.parametrize(("layout", "ranges"), [("contiguous", 1), ("scattered", 300)])
def test_it_times_choosing_writing_and_logging_only_the_new_rows(capsys, layout, ranges):
    call_command(
        "sentlog_bench", "--rows", "3000", "--new", "300", "--repeat", "1", "--layout", layout
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["logged"], line["new_rows"], line["rows_written"]) == (2700, 300, 300)
    assert line["log_ranges"] == ranges
    for key in ("select_seconds", "write_seconds", "log_seconds", "plain_export_seconds"):
        assert line[key] > 0
    # The printed seconds are rounded to milliseconds, so at this size only the sign can be
    # checked against them; the figure itself comes from the unrounded times.
    assert line["ratio_vs_plain"] > 0
    assert not SavedExport.objects.exists() and not DeliveryLog.objects.exists()
    assert not SentRange.objects.exists()
