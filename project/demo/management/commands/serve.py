import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from exportdesk_tools.processes import stop
from exports.queues import chosen_name


def interrupt(signum, frame):
    raise KeyboardInterrupt


def workers() -> list[list[str]]:
    """The worker and the clock of the chosen queue (EXPORTS_QUEUE; README "Queues"). django-q2
    keeps its clock in the qcluster; Celery on Redis (REDIS_URL) has beat; django.tasks on
    django-tasks-db has `exports_clock`."""
    celery = [sys.executable, "-m", "celery", "-A", "project"]
    return {
        "django_q": [[sys.executable, "manage.py", "qcluster"]],
        "celery": [
            [*celery, "worker", "-l", "info"],
            [*celery, "beat", "-l", "info", "-s", str(settings.VAR_DIR / "celerybeat-schedule")],
        ],
        "tasks": [
            [sys.executable, "manage.py", "db_worker", "--no-reload"],
            [sys.executable, "manage.py", "exports_clock"],
        ],
    }[chosen_name()]


class Command(BaseCommand):
    help = "Run the web server and the queue's worker (and clock) together; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        # Explicit handlers: a process started in the background may inherit SIGINT ignored.
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        started = [subprocess.Popen(argv) for argv in workers()]
        try:
            call_command("runserver", addrport, use_reloader=False, insecure_serving=True)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the web server and the worker.")
        finally:
            for worker in started:
                stop(worker, timeout=20)
