"""django-q2 (the default): jobs through `async_task`, periodic work as django-q2 schedules."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from exports.conf import app_settings


def joins_transaction() -> bool:
    """The ORM broker's job row is written on the caller's connection."""
    return bool(settings.Q_CLUSTER.get("orm"))


def send(func: str, args: tuple, name: str) -> None:
    from django_q.tasks import async_task

    async_task(func, *args, task_name=name, group="exports")


def waiting(now: datetime) -> set[str] | None:
    """Task names in the ORM broker, waiting or taken by a cluster less than
    EXPORTS_REQUEUE_AFTER_SECONDS ago. A job taken longer ago whose export is still queued
    most likely died with its cluster (SIGKILL, lost machine): the broker would hand it out
    again only after Q_RETRY, by default over an hour. Other brokers cannot be listed cheaply."""
    if not joins_transaction():
        return None
    from django_q.conf import Conf
    from django_q.models import OrmQ

    # The broker sets lock = (time taken) + retry; a lock in the past means "waiting".
    taken_before = now - timedelta(seconds=app_settings.REQUEUE_AFTER_SECONDS - Conf.RETRY)
    alive = OrmQ.objects.filter(Q(lock__lte=now) | Q(lock__gte=taken_before))
    return {job.name() for job in alive.only("payload")}
