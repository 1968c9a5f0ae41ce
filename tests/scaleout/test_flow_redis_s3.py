"""The whole flow scaled out: admin action -> Redis -> two qcluster workers -> S3 -> purge."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Task
from django_q.status import Stat

from exports.delivery.purge import purge_expired
from exports.models import DownloadFile, ExportAudit, ExportStatus
from project.demo.models import UserPoint
from tests.conftest import wait_for
from tests.scaleout.conftest import fetch
from tests.test_flow import expected_rows, export_from_changelist, unneutralise


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_an_admin_export_runs_once_on_two_redis_workers_and_is_served_and_purged_from_s3(
    client, staff, demo_data, redis_broker, seaweedfs, s3_bucket, s3_exports, start_qcluster,
    exports_root,
):  # fmt: skip
    worker_env = {**seaweedfs.env(s3_bucket), "Q_BROKER": "redis", "REDIS_URL": redis_broker}
    start_qcluster(worker_env, "one")
    start_qcluster(worker_env, "two")
    # Both clusters report to Redis: two competing consumers of the same queue.
    wait_for(lambda: len(Stat.get_all(get_broker())) == 2, what="two qclusters on Redis")

    ids = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True)[:250])
    client.force_login(staff)
    export_from_changelist(client, ids)
    audit = ExportAudit.objects.get()
    assert not OrmQ.objects.exists()  # the job went to Redis, not into the ORM queue

    wait_for(
        lambda: ExportAudit.objects.get(pk=audit.pk).status == ExportStatus.COMPLETED,
        what="a worker to complete the export",
    )
    task = wait_for(
        lambda: Task.objects.filter(name=f"export-{audit.pk}").first(),
        what="the worker to record the task",
    )
    assert task.success and task.attempt_count == 1
    assert Task.objects.filter(name=f"export-{audit.pk}").count() == 1
    audit.refresh_from_db()
    assert audit.row_count == 250
    file = DownloadFile.objects.get()  # exactly one file for exactly one run
    assert file.audit == audit

    # In the bucket, not on any local disk.
    assert seaweedfs.keys(s3_bucket) == [file.stored_name]
    assert not exports_root.exists() or not any(exports_root.rglob("*.csv"))

    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert file.get_absolute_url() in page and "X-Amz-Signature" not in page
    response = client.get(file.get_absolute_url())
    assert response.status_code == 302
    fetched = fetch(response["Location"])
    assert fetched.status == 200
    assert 'attachment; filename="user_points_' in fetched.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(fetched.body.decode("utf-8"))))
    assert len(rows) == 251
    assert [[unneutralise(v) for v in row] for row in rows[1:]] == expected_rows(ids)

    DownloadFile.objects.filter(pk=file.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # Not in an atomic block here (transactional test): the on-commit delete runs at once.
    assert purge_expired() == [file.stored_name]
    assert not DownloadFile.objects.exists()
    assert seaweedfs.keys(s3_bucket) == []
    assert fetch(response["Location"]).status in (403, 404)
    assert ExportAudit.objects.filter(pk=audit.pk).exists()  # the audit row stays
