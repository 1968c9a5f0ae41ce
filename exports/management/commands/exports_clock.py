"""`manage.py exports_clock`: the clock for queues without one (django.tasks), or instead of
Celery beat. Each minute it sends the periodic jobs due in that minute (exports.queues.PERIODIC)
to the chosen queue; a worker runs them. `--once` sends one minute's worth and exits, for a
cron entry or systemd timer that fires every minute.

The rule is stateless (minute since the epoch modulo the job's interval), so two clocks, or a
clock restarted, do no harm: every job is idempotent, and schedule runs are claimed exactly
once in the database (exports.scheduling.due).
"""

import time

from django.core.management.base import BaseCommand

from exports import queues


def send_due(minute: int) -> list[str]:
    due = [job for job in queues.PERIODIC if job.due(minute)]
    for job in due:
        queues.send(job.func, name=job.name)
    return [job.name for job in due]


class Command(BaseCommand):
    help = "Send Exportdesk's periodic jobs (purge, sweep, due schedules) to the queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Send this minute's jobs and exit (for cron)."
        )

    def handle(self, *args, once: bool = False, **options) -> None:
        queue = queues.chosen_name()
        while True:
            minute = int(time.time() // 60)
            sent = send_due(minute)
            self.stdout.write(f"exports_clock ({queue}): sent {', '.join(sent) or 'nothing'}")
            self.stdout.flush()
            if once:
                return
            # Until the next minute begins: a clock, not a wait for a condition.
            time.sleep(60 - time.time() % 60 + 0.05)
