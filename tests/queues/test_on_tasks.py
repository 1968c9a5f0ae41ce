"""Django's Tasks framework (EXPORTS_QUEUE = "tasks") on django-tasks-db: a real `db_worker`
runs every job and `exports_clock` is the clock (Django 5.2 with the backport, 6.1 built in)."""

import pytest

from tests.queues.conftest import Queue
from tests.queues.flows import *  # noqa: F403 - the shared tests, run on this queue


@pytest.fixture
def queue(tasks_queue: Queue) -> Queue:
    return tasks_queue
