"""Redis down when an export is accepted (found by the chaos run: the request raised after the
audit row had committed, so people saw an error, asked again and got two exports). The export
is accepted and on record as queued; once Redis is back the sweeper sends its job."""

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.brokers import get_broker

from exportdesk_tools.servers import RedisServer
from exports.jobs.accept import queue_export
from exports.jobs.sweeper import sweep
from exports.models import ExportAudit, ExportStatus
from tests.scaleout.conftest import use_redis_broker

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def own_redis(tmp_path: Path, settings, monkeypatch) -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may stop and start; the broker of this process."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    use_redis_broker(settings, monkeypatch, server.url)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp_path / "redis", ignore_errors=True)


def test_an_export_asked_for_while_redis_is_down_is_accepted_and_sent_later(
    staff, demo_data, own_redis, settings
):
    own_redis.stop()
    accepted = queue_export(staff, "user_points", "csv")
    assert not accepted.duplicate
    audit = ExportAudit.objects.get(pk=accepted.audit.pk)
    assert audit.status == ExportStatus.QUEUED

    own_redis.start()
    assert get_broker().queue_size() == 0  # the job never reached Redis
    later = timezone.now() + timedelta(seconds=settings.EXPORTS_REQUEUE_AFTER_SECONDS + 1)
    assert sweep(now=later).resent == [str(audit.pk)]
    assert get_broker().queue_size() == 1
