import json

from django.core.management.base import BaseCommand

from exports.tools.loadtest import asdict, run_load


class Command(BaseCommand):
    help = "Queue many exports from many users at once on this configuration and report."

    def add_arguments(self, parser):
        parser.add_argument("--exports", type=int, default=200)
        parser.add_argument("--users", type=int, default=20)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--rows", type=int, default=2000, help="Rows per export (about).")
        parser.add_argument("--timeout", type=float, default=1800)

    def handle(self, *args, exports, users, workers, rows, timeout, **options):
        report = run_load(exports, users, workers, rows, timeout)
        self.stdout.write(json.dumps(asdict(report)))
