"""`manage.py export` and `manage.py export_bench`.

Rejected input leaves no audit row (nothing was accepted, as with a rejected admin request);
a failure after acceptance leaves a failed one with the reason.
"""

import csv
import getpass
import io
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone
from django_q.models import OrmQ

from exports.formats.sql import SqlWriter
from exports.jobs.sweeper import sweep
from exports.models import Delivery, ExportAudit, ExportStatus
from project.demo.management.commands.export_bench import server_cpu_reader
from project.demo.models import UserPoint
from tests.conftest import wait_for


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("export", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_writes_the_file_and_a_completed_audit_row(demo_data, tmp_path: Path):
    target = tmp_path / "points.csv"
    printed = run("user_points", "--format", "csv", "-o", str(target))
    rows = list(csv.reader(target.open(newline="")))
    audit = ExportAudit.objects.get()
    assert len(rows) - 1 == audit.row_count == UserPoint.objects.count()
    assert audit.bytes == target.stat().st_size
    assert audit.status == ExportStatus.COMPLETED and audit.finished_at
    assert audit.requested_by is None
    assert audit.requested_by_display == f"cli:{getpass.getuser()}"
    assert f"{audit.row_count} rows, {audit.bytes} bytes" in printed
    assert [p.name for p in tmp_path.iterdir()] == ["points.csv"]  # no partial file left


def test_it_puts_several_datasets_with_their_filters_and_options_in_one_file(
    demo_data, tmp_path: Path
):
    target = tmp_path / "out.json"
    game = UserPoint.objects.first().game_id
    run(
        *("user_points", "users", "-f", "json", "--limit", "4", "--sort-columns"),
        *("--filter", json.dumps({"game": game}), "--filter", "{}", "-o", str(target)),
    )
    parsed = json.loads(target.read_text())
    assert [len(parsed["user_points"]), len(parsed["users"])] == [4, 4]
    assert {row["game_id"] for row in parsed["user_points"]} == {game}
    audit = ExportAudit.objects.get()
    assert audit.dataset == "user_points,users" and audit.options["sort_columns"] is True
    assert audit.filters["tables"][0] == {
        "dataset": "user_points",
        "conditions": {"game": game},
        "limit": 4,
    }


def test_it_can_write_to_stdout(demo_data, capfdbinary):
    call_command("export", "users", "-f", "csv", "--limit", "2", "-o", "-", stderr=io.StringIO())
    assert capfdbinary.readouterr().out.count(b"\r\n") == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such", "-f", "csv"], "Unknown dataset 'no_such'"),
        (["users", "-f", "docx"], "Unknown format 'docx'"),
        (["users", "-f", "csv", "--filter", '{"password": 1}'], "Unknown filter field 'password'"),
        (["users", "-f", "csv", "--filter", '{"id": {"regex": 1}}'], "Unknown operator 'regex'"),
        (["users", "-f", "csv", "--filter", "{nope"], "not valid JSON"),
        (["users", "users", "users", "-f", "csv", "--filter", "{}", "--filter", "{}"], "once"),
        (["users", "-f", "csv", "--limit", "0"], "positive"),
    ],
)
def test_it_rejects_bad_input_clearly_and_records_nothing(demo_data, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "-o", str(tmp_path / "out"))
    assert not ExportAudit.objects.exists()
    assert not list(tmp_path.iterdir())


def test_a_missing_output_folder_is_rejected_before_anything_is_recorded(demo_data, tmp_path):
    with pytest.raises(CommandError, match="No such directory"):
        run("users", "-f", "csv", "-o", str(tmp_path / "missing" / "out.csv"))
    assert not ExportAudit.objects.exists()


def test_a_failure_after_acceptance_leaves_a_failed_audit_row_and_no_file(demo_data, tmp_path):
    occupied = tmp_path / "a-directory"
    (occupied / "inside").mkdir(parents=True)  # the finished file cannot replace it
    with pytest.raises(CommandError, match="Export failed"):
        run("users", "-f", "csv", "-o", str(occupied))
    audit = ExportAudit.objects.get()
    assert audit.status == ExportStatus.FAILED and "a-directory" in audit.error
    assert audit.finished_at is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory"]


@pytest.mark.django_db(transaction=True)
def test_the_bench_prints_one_json_line_per_measurement_and_reports_unknown_formats():
    out = io.StringIO()
    call_command("seed_demo", "--rows", "60", stdout=io.StringIO())
    bench = ["user_points", "--rows", "60", "--formats", "csv,xlsx,ods,nope"]
    call_command("export_bench", *bench, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    by_format = {line["format"]: line for line in lines}
    assert list(by_format) == ["copy", "openpyxl-bare", "csv", "xlsx", "ods", "nope"]
    for name in ("copy", "openpyxl-bare", "csv", "xlsx", "ods"):
        assert by_format[name]["rows"] == 60, by_format[name]
        assert by_format[name]["peak_rss_mb"] > 0
    assert by_format["csv"]["ratio_vs_copy"] > 0
    assert by_format["xlsx"]["ratio_vs_openpyxl_bare"] > 0
    assert by_format["ods"]["ratio_vs_openpyxl_bare"] > 0
    assert "not registered" in by_format["nope"]["error"]


@pytest.mark.django_db(transaction=True)
def test_the_benchs_server_cpu_counts_connections_that_have_ended():
    """A CSV export's halves (engine.halves) run on connections that close before the bench
    reads the server's CPU: their backends' seconds must still be in it."""
    server_cpu = server_cpu_reader()
    before = server_cpu()
    other = connections.create_connection("default")
    other.ensure_connection()
    busy = other.connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    other.connection.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
    other.close()
    wait_for(lambda: not Path(f"/proc/{busy}").exists(), what="the ended backend to be reaped")
    assert server_cpu() - before >= 0.1


@pytest.fixture
def slow_writer(monkeypatch) -> None:
    """A writer that takes about three seconds for 300 rows: a slow disk or a slow query."""
    original = SqlWriter.write_table

    def write_table(self, table, rows):
        def slowly():
            for row in rows:
                time.sleep(0.01)
                yield row

        return original(self, table, slowly())

    monkeypatch.setattr(SqlWriter, "write_table", write_table)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_slow_cli_export_beats_and_is_never_swept(demo_data, tmp_path, settings, slow_writer):
    settings.EXPORTS_HEARTBEAT_SECONDS, settings.EXPORTS_STALE_SECONDS = 0.2, 1
    command = threading.Thread(
        target=run, args=("user_points", "-f", "sql", "-o", str(tmp_path / "p.sql"))
    )
    command.start()
    audit = wait_for(ExportAudit.objects.first, timeout=10, what="the audit row")
    swept: list[str] = []
    while command.is_alive():  # sweep as the schedule would, only much more often
        result = sweep()
        swept += result.requeued + result.failed
        command.join(timeout=0.3)
    assert swept == [], "a live CLI export was taken for a dead worker"
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED
    assert (audit.error, audit.notes, audit.row_count) == ("", "", 300)
    assert audit.delivery == Delivery.COMMAND
    assert audit.duration.total_seconds() > 2, "the export really outlived the stale limit"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_cli_export_whose_process_died_is_failed_not_requeued(db, settings):
    settings.EXPORTS_STALE_SECONDS = 60
    then = timezone.now() - timedelta(seconds=61)
    audit = ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by_display="cli:root",
        delivery=Delivery.COMMAND,
        status=ExportStatus.RUNNING,
        attempts=1,
        started_at=then,
        heartbeat_at=then,
    )
    assert sweep().failed == [str(audit.pk)]
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert "export command stopped responding" in audit.error
    assert not OrmQ.objects.exists(), "nothing for a worker to run"


def test_the_bench_and_the_load_run_refuse_an_unknown_dataset(db):
    for command in ("export_bench", "export_load"):
        with pytest.raises(CommandError, match="Unknown dataset 'nope'"):
            call_command(command, "nope", "--rows", "10")
