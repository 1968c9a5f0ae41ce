import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from exportdesk_tools.processes import stop


def interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the web server and a qcluster worker together; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        # Explicit handlers: a process started in the background may inherit SIGINT ignored.
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"])
        try:
            call_command("runserver", addrport, use_reloader=False, insecure_serving=True)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the web server and the worker.")
        finally:
            stop(worker, timeout=20)
