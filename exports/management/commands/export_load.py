"""`manage.py export_load DATASET`: a load run on this configuration (exports.tools.loadtest)."""

import json

from django.core.management.base import BaseCommand, CommandError

from exports.datasets.registry import UnknownDataset, get_dataset
from exports.tools.loadtest import asdict, run_load


class Command(BaseCommand):
    help = "Queue many exports of a dataset from many users at once on this configuration."

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="A registered dataset's name.")
        parser.add_argument("--exports", type=int, default=200)
        parser.add_argument("--users", type=int, default=20)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--rows", type=int, default=2000, help="Rows per export (about).")
        parser.add_argument("--timeout", type=float, default=1800)

    def handle(self, *args, dataset, exports, users, workers, rows, timeout, **options):
        try:
            get_dataset(dataset)
        except UnknownDataset as exc:
            raise CommandError(str(exc)) from None
        report = run_load(dataset, exports, users, workers, rows, timeout)
        self.stdout.write(json.dumps(asdict(report)))
