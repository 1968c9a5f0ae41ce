"""`manage.py run_export_schedule ID [--inline]`: run one schedule now, as the scheduler would,
and print the audit ids of the exports it queued (a cron job can drive schedules this way)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.jobs.accept import run_export
from exports.models import ExportSchedule
from exports.scheduling.runs import run_now


class Command(BaseCommand):
    help = "Run one export schedule now and print the ids of the audit rows it created."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schedule_id", type=int)
        parser.add_argument(
            "--inline", action="store_true", help="Run the exports here instead of on a worker."
        )

    def handle(self, *args: Any, schedule_id: int, inline: bool, **options: Any) -> None:
        schedule = ExportSchedule.objects.filter(pk=schedule_id).first()
        if schedule is None:
            raise CommandError(f"No export schedule with id {schedule_id}.")
        run = run_now(schedule)
        audit_ids = [
            str(pk) for pk in run.deliveries.exclude(audit=None).values_list("audit_id", flat=True)
        ]
        for audit_id in audit_ids:
            self.stdout.write(audit_id)
            if inline:
                run_export(audit_id)
        run.refresh_from_db()
        self.stderr.write(f"Run {run.pk}: {run.get_status_display()}. {run.message}")
