"""`manage.py export_load DATASET`: a load run on this configuration (exportdesk_tools.loadtest),
or with --chaos the same load on servers of its own with faults injected
(exportdesk_tools.chaos). A command of the demo, beside the tooling it drives: neither is in
the wheel a host installs."""

import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from exportdesk_tools.chaos import CONFIGS, QUEUES, ChaosOptions, run_chaos, summary_lines
from exportdesk_tools.crowd import run_crowd
from exportdesk_tools.loadtest import asdict, run_load
from exports.datasets.registry import UnknownDataset, get_dataset


class Command(BaseCommand):
    help = (
        "Queue many exports of a dataset from many users at once on this configuration and "
        "report. With --chaos: on servers of its own, inject faults at seeded moments and check "
        "every request against the database and the storage."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="A registered dataset's name.")
        parser.add_argument("--exports", type=int, default=200)
        parser.add_argument("--users", type=int, default=20)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--rows", type=int, default=2000, help="Rows per export (about).")
        parser.add_argument("--timeout", type=float, default=1800)
        parser.add_argument("--chaos", action="store_true", help="Inject faults (see README).")
        parser.add_argument("--seed", type=int, default=1, help="Chaos: makes the plan repeat.")
        parser.add_argument("--config", choices=sorted(CONFIGS), default="default")
        parser.add_argument(
            "--queue", choices=QUEUES, default="django_q", help="Chaos: the queue to run on."
        )
        parser.add_argument("--faults-per-kind", type=int, default=0, help="0: one per 150.")
        parser.add_argument("--settle", type=float, default=180, help="Chaos: seconds, at most.")
        parser.add_argument("--json", action="store_true", help="Chaos: print JSON.")
        parser.add_argument("--keep", action="store_true", help="Chaos: keep the run's folder.")
        # The crowd of a chaos run, started by the run itself in its own environment.
        parser.add_argument("--chaos-client", metavar="SPEC", help=argparse.SUPPRESS)

    def handle(self, *args, dataset, **o):
        try:
            get_dataset(dataset)
        except UnknownDataset as exc:
            raise CommandError(str(exc)) from None
        if o["chaos_client"]:
            run_crowd(o["chaos_client"])
            return
        if not o["chaos"]:
            report = run_load(
                dataset, o["exports"], o["users"], o["workers"], o["rows"], o["timeout"]
            )
            self.stdout.write(json.dumps(asdict(report)))
            return
        if o["exports"] < 1 or o["users"] < 1:
            raise CommandError("--exports and --users must be at least 1.")
        options = ChaosOptions(
            config=o["config"],
            queue=o["queue"],
            dataset=dataset,
            seed=o["seed"],
            exports=o["exports"],
            users=min(o["users"], o["exports"]),
            rows=o["rows"],
            workers=o["workers"],
            faults_per_kind=o["faults_per_kind"],
            timeout=o["timeout"],
            settle_seconds=o["settle"],
            keep=o["keep"],
        )
        report = run_chaos(options)
        if o["json"]:
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write("\n".join(summary_lines(report)))
