"""Queue entry points for schedules: the periodic look for due ones, and one run now."""

import os

from exports.models import ExportSchedule


def run_due_task() -> dict[str, int]:
    """Every minute (exports.queues.PERIODIC): start what is due, settle what was left over."""
    from exports.scheduling.due import run_due
    from exports.scheduling.runs import settle_finished

    runs = run_due()
    settled = settle_finished()
    return {"runs": len(runs), "settled": settled, "pid": os.getpid()}


def run_schedule_task(schedule_id: int) -> list[str]:
    """One schedule now, as the scheduler would; the ids of the exports it queued."""
    from exports.scheduling.runs import run_now

    run = run_now(ExportSchedule.objects.get(pk=schedule_id))
    return [str(a) for a in run.deliveries.exclude(audit=None).values_list("audit_id", flat=True)]
