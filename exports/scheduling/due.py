"""Finding and claiming due schedules: exactly once per due time, however many clusters look.

A cluster locks one due schedule with `SELECT ... FOR UPDATE SKIP LOCKED` (others pass it
by), then moves its next_run_at on with an UPDATE conditional on the value it read (the guard
on databases without row locks), and starts the run in the same transaction. The next run is
the first one strictly after now, and never sooner than EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES
after the due one: runs missed while every worker was down collapse into one.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from exports.conf import app_settings
from exports.db import write_atomic
from exports.i18n import speaking
from exports.models import ExportSchedule, RunStatus, ScheduleRun, Trigger
from exports.scheduling.cron import CronError
from exports.scheduling.runs import start_run
from exports.scheduling.timing import next_run_time

log = logging.getLogger(__name__)
NOTHING_DUE = object()


def run_due(now: datetime | None = None) -> list[ScheduleRun]:
    now = now or timezone.now()
    runs = []
    while (claimed := claim_one(now)) is not NOTHING_DUE:
        if claimed is not None:
            runs.append(claimed)
    return runs


def claim_one(now: datetime):
    """A started run, None if another cluster won this schedule, or NOTHING_DUE."""
    with write_atomic():
        due = ExportSchedule.objects.due(now).select_for_update(skip_locked=True)
        schedule = due.order_by("next_run_at", "pk").first()
        if schedule is None:
            return NOTHING_DUE
        due_at = schedule.next_run_at
        following = upcoming(schedule, max(now, due_at + min_gap() - timedelta(microseconds=1)))
        moved = {"next_run_at": following}
        if following is None:
            with speaking(schedule.saved_export.options):
                reason = _("Its timing matches no time in the future.")
            moved.update(paused=True, paused_reason=reason)
        won = ExportSchedule.objects.filter(
            pk=schedule.pk, next_run_at=due_at, paused=False
        ).update(**moved)
        if not won:
            return None
        try:
            with transaction.atomic():
                return start_run(schedule, Trigger.SCHEDULE, due_at=due_at)
        except Exception as exc:  # a bug must not stop the other schedules from running
            log.exception("schedule %s: the run could not start", schedule.pk)
            with speaking(schedule.saved_export.options):
                message = _("The run could not start: %(error)s") % {"error": exc}
            return ScheduleRun.objects.create(
                schedule=schedule,
                trigger=Trigger.SCHEDULE,
                due_at=due_at,
                status=RunStatus.FAILED,
                finished_at=timezone.now(),
                message=message,
            )


def min_gap() -> timedelta:
    """EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES: the form refuses a timing that runs more often;
    this holds it for schedules saved before the setting, or made in code."""
    return timedelta(minutes=app_settings.SCHEDULE_MIN_INTERVAL_MINUTES)


def upcoming(schedule: ExportSchedule, after: datetime) -> datetime | None:
    """The first run strictly after `after`; None when there is none (or none a date holds)."""
    try:
        return next_run_time(schedule, after)
    except (CronError, ValueError, OverflowError) as exc:
        log.warning("schedule %s never runs again: %s", schedule.pk, exc)
        return None


def reschedule(schedule: ExportSchedule, now: datetime | None = None) -> None:
    """After a change of timing, or on resume: the next run from now on (none when paused)."""
    schedule.next_run_at = None if schedule.paused else next_run_time(schedule, now)


def resume(schedule: ExportSchedule) -> None:
    schedule.paused, schedule.paused_reason, schedule.failures_in_row = False, "", 0
    reschedule(schedule)
    schedule.save(update_fields=["paused", "paused_reason", "failures_in_row", "next_run_at"])


def pause_by_owner(schedule: ExportSchedule, who) -> None:
    schedule.paused = True
    schedule.paused_reason = _("Paused by %(user)s.") % {"user": who.get_username()}
    schedule.next_run_at = None
    schedule.save(update_fields=["paused", "paused_reason", "next_run_at"])
