"""`export_load --chaos --config scaleout`: Redis broker, SeaweedFS S3 storage and two
qclusters, with one fault of each kind (a worker and a whole qcluster SIGKILLed, PostgreSQL
and Redis restarted, the object store stopped for some seconds), on servers the run starts
itself."""

from exportdesk_tools.faults import SCALEOUT_KINDS
from tests.test_chaos import assert_targets_met, chaos_report


def test_a_seeded_scaleout_chaos_run_loses_nothing_and_keeps_every_file_whole():
    report = chaos_report("--config", "scaleout", "--exports", "60", "--users", "12", "--seed", "7")
    assert report["config"] == "scaleout" and report["qclusters"] == 2
    assert_targets_met(report, SCALEOUT_KINDS, 60)
    assert report["qclusters_started"] >= 3  # the one killed was started again
