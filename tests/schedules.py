"""Helpers for the schedule tests: saved exports, schedules, and running a run's exports."""

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.utils import timezone

from exports.jobs.runner import run
from exports.models import (
    DeliveryStatus,
    DownloadFile,
    ExportSchedule,
    RunStatus,
    SavedExport,
    ScheduleRecipient,
    ScheduleRun,
)
from exports.scheduling.runs import run_now
from tests.conftest import make_user
from tests.test_email import Inbox, free_port


def saved_export(owner, dataset: str = "user_points", fmt: str = "csv", **fields) -> SavedExport:
    return SavedExport.objects.create(
        name=fields.pop("name", "Points"), owner=owner, dataset=dataset, format=fmt, **fields
    )


def colleagues(*users) -> Group:
    """Users in one group: a schedule's owner may address the members of their groups."""
    team, _ = Group.objects.get_or_create(name="colleagues")
    team.user_set.add(*users)
    return team


def schedule_for(saved: SavedExport, **fields) -> ExportSchedule:
    """Daily by default, due a minute ago."""
    fields.setdefault("kind", "interval")
    fields.setdefault("next_run_at", timezone.now() - timedelta(minutes=1))
    fields.setdefault("starts_at", timezone.now() - timedelta(days=1))
    return ExportSchedule.objects.create(saved_export=saved, **fields)


def shared_schedule() -> tuple:
    """(owner, bob, schedule): an incremental schedule of the owner's saved export, due, that
    bob (a colleague) receives too."""
    owner = make_user("owner", staff=True, export=True)
    bob = make_user("bob", export=True)
    colleagues(owner, bob)
    schedule = schedule_for(saved_export(owner), incremental=True)
    ScheduleRecipient.objects.create(schedule=schedule, user=bob)
    return owner, bob, schedule


def finished_run(schedule: ExportSchedule) -> ScheduleRun | None:
    return ScheduleRun.objects.filter(schedule=schedule).exclude(status="running").first()


def assert_everyone_got_every_row(schedule_run: ScheduleRun, *users) -> list[int]:
    """The run completed and each user's delivery holds every demo row in a file of their
    own; those row ids."""
    from project.demo.models import UserPoint

    assert schedule_run.status == RunStatus.COMPLETED, schedule_run.message
    every = list(UserPoint.objects.order_by("pk").values_list("pk", flat=True))
    for user in users:
        delivery = schedule_run.deliveries.get(user=user)
        assert delivery.status == DeliveryStatus.SENT and delivery.rows == len(every)
        assert ids_in(DownloadFile.objects.get(audit=delivery.audit, owner=user)) == every
    return every


def finish_exports(schedule_run: ScheduleRun) -> ScheduleRun:
    """What the worker would do: run each queued export (which settles its delivery)."""
    for audit_id in schedule_run.deliveries.exclude(audit=None).values_list("audit_id", flat=True):
        run(str(audit_id))
    schedule_run.refresh_from_db()
    return schedule_run


def run_and_deliver(schedule: ExportSchedule) -> ScheduleRun:
    return finish_exports(run_now(schedule))


def ids_in(file: DownloadFile) -> list[int]:
    """The ID column of a user_points CSV."""
    with file.open() as handle:
        rows = list(csv.reader(io.TextIOWrapper(handle, encoding="utf-8")))
    return [int(row[0]) for row in rows[1:]]


def delivered_file(schedule_run: ScheduleRun, user) -> DownloadFile:
    delivery = schedule_run.deliveries.get(user=user)
    return DownloadFile.objects.get(audit=delivery.audit)


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback that worker processes can reach: (inbox, port)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()
