import time

from django.core.management.base import BaseCommand

from project.demo.seed import top_up


class Command(BaseCommand):
    help = "Fill the demo tables until at least --rows user points exist."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=20_000)

    def handle(self, *args, rows: int, **options):
        started = time.monotonic()
        added = top_up(rows)
        seconds = time.monotonic() - started
        self.stdout.write(f"Loaded {added} user points in {seconds:.1f} s ({rows} wanted).")
