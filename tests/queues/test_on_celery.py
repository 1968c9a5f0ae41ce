"""Celery (EXPORTS_QUEUE = "celery"): a real `celery -A project worker` (prefork) on a
throwaway Redis runs every job; `exports_clock` or Celery beat is the clock."""

from datetime import timedelta

import pytest

from exports.delivery.storage import exports_storage
from exports.models import DownloadFile
from tests.conftest import wait_for
from tests.factories import finished_file
from tests.queues.conftest import Queue
from tests.queues.flows import *  # noqa: F403 - the shared tests, run on this queue


@pytest.fixture
def queue(celery_queue: Queue) -> Queue:
    return celery_queue


def test_beat_runs_the_periodic_jobs_on_the_worker(queue: Queue, alice):
    """The demo's app carries on_celery.beat_schedule() (project/celery.py, the README's
    lines); each entry sent as beat sends it runs on the worker: the purge removes a file."""
    from exports.queues import PERIODIC
    from exports.queues.on_celery import TASK_NAME, beat_schedule
    from project.celery import app

    entries = app.conf.beat_schedule
    assert {name: entries[name] for name in beat_schedule()} == beat_schedule()
    assert [entries[job.name]["args"] for job in PERIODIC] == [(job.func,) for job in PERIODIC]
    assert {entry["task"] for entry in beat_schedule().values()} == {TASK_NAME}
    assert entries["exports: run due export schedules"]["schedule"] == 60.0
    expired = finished_file(alice, expires_in=timedelta(seconds=-1))
    queue.start_worker()
    for name, entry in beat_schedule().items():
        app.send_task(entry["task"], args=entry["args"], shadow=name)
    wait_for(lambda: not DownloadFile.objects.filter(pk=expired.pk).exists(), what="the purge")
    assert not exports_storage().exists(expired.stored_name)
    for name in beat_schedule():
        wait_for(lambda name=name: queue.logged(f"Task {name}[", "succeeded"), what=name)
