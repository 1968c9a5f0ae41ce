"""Django's Tasks framework (EXPORTS_QUEUE = "tasks") on django-tasks-db: a real `db_worker`
runs every job and `exports_clock` is the clock (Django 5.2 with the backport, 6.1 built in)."""

import pytest

from tests.queues.conftest import Queue
from tests.queues.flows import (  # noqa: F401 - the shared tests, run on this queue
    pytestmark,
    test_a_cancelled_export_stops_and_its_queued_job_does_nothing,
    test_an_admin_export_reaches_my_downloads_with_no_qcluster,
    test_an_export_delivered_by_e_mail_sends_its_link,
    test_an_export_whose_worker_is_killed_finishes_once_on_another,
    test_the_clock_sends_a_due_schedule_and_the_purge_to_the_worker,
)


@pytest.fixture
def queue(tasks_queue: Queue) -> Queue:
    return tasks_queue
