"""The people of a chaos run, in the process that plays them (`export_load --chaos-client`).

Each simulated user asks for one export at a time (mixed formats, background or e-mail
delivery, some with a short file lifetime), waits for it, downloads some files through the
real views and deletes some; the sweeper and the purge run on their own timers. Whatever the
faults do to the database or the storage, a failed step is counted and tried again later.
When the conductor says the faults are over, it waits (bounded) for every export to settle,
runs the purge once more, and writes the ledger's figures to `report.json`.
"""

import email
import email.policy
import json
import logging
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, connections
from django.test import Client

from exportdesk_tools import ledger
from exportdesk_tools.loadtest import load_users
from exportdesk_tools.readback import READERS
from exports.conf import app_settings
from exports.delivery.purge import purge_expired
from exports.jobs.accept import ExportRefused, queue_export
from exports.jobs.sweeper import sweep
from exports.models import PENDING, Delivery, DownloadFile, ExportAudit, ExportStatus

log = logging.getLogger(__name__)
FORMATS = sorted(READERS)
FINAL = {ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED}
LINK = re.compile(r"/downloads/([0-9a-f-]{36})/")
TICK = 0.25


@dataclass
class CrowdSpec:
    """What the conductor asks for; written to a JSON file the client reads."""

    dataset: str
    seed: int
    exports: int
    users: int
    rows: int
    workdir: str
    settle_seconds: float = 180
    load_seconds: float = 1800
    sweep_every: float = 2.0
    purge_every: float = 10.0
    mail_dir: str = ""

    @classmethod
    def read(cls, path: str) -> "CrowdSpec":
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class Person:
    user: AbstractBaseUser  # whatever AUTH_USER_MODEL is (loadtest.load_users makes them)
    client: Client | None = None
    pending: str | None = None
    files: list[str] = field(default_factory=list)  # DownloadFile pks to fetch or delete
    next_at: float = 0.0


class Crowd:
    def __init__(self, spec: CrowdSpec) -> None:
        self.spec, self.rng = spec, random.Random(spec.seed)
        self.workdir = Path(spec.workdir)
        self.people: list[Person] = []
        self.requested = 0
        self.final: set[str] = set()
        self.file_of: dict[str, str] = {}  # audit pk -> its DownloadFile pk, once seen
        self.email_audits: set[str] = set()
        self.counts: Counter[str] = Counter()

    # --- the status file the conductor watches ---------------------------------------------

    def report_status(self, phase: str) -> None:
        status = {
            "phase": phase,
            "requested": self.requested,
            "final": len(self.final),
            "exports": self.spec.exports,
        }
        tmp = self.workdir / "status.json.tmp"
        tmp.write_text(json.dumps(status))
        tmp.replace(self.workdir / "status.json")

    def faults_over(self) -> bool:
        return (self.workdir / "faults.done").exists()

    # --- one step of everyone --------------------------------------------------------------

    def prepare(self) -> None:
        users = load_users(self.spec.users, self.spec.dataset, prefix="chaos")
        self.people = [Person(user) for user in users]

    def attempt(self, what: str, action) -> object:
        """Run one step; a failure is counted, never fatal: the next tick tries again."""
        try:
            return action()
        except DatabaseError as exc:
            self.counts[f"{what}: database error"] += 1
            log.info("%s: %s", what, exc)
            for conn in connections.all():
                conn.close()
        except Exception as exc:
            self.counts[f"{what}: {type(exc).__name__}"] += 1
            log.warning("%s: %s", what, exc, exc_info=True)
        return None

    def watch(self) -> None:
        waiting = {p.pending: p for p in self.people if p.pending}
        if not waiting:
            return
        rows = ExportAudit.objects.filter(pk__in=list(waiting)).values_list("pk", "status")
        for pk, status in rows:
            if status not in FINAL:
                continue
            person, key = waiting[str(pk)], str(pk)
            if status == ExportStatus.COMPLETED:
                file = DownloadFile.objects.filter(audit_id=pk).values_list("pk", flat=True)
                found = file.first()
                if found:
                    self.file_of[key] = str(found)
                    person.files.append(str(found))
            self.final.add(key)
            person.pending = None
            person.next_at = time.monotonic() + self.rng.uniform(0, 1.0)

    def ask(self, person: Person) -> None:
        email = self.rng.random() < 0.25
        options = {"lifetime": self.rng.choice([30, 45])} if self.rng.random() < 0.2 else {}
        try:
            accepted = queue_export(
                person.user,
                self.spec.dataset,
                self.rng.choice(FORMATS),
                {"limit": self.rng.randint(self.spec.rows // 4, self.spec.rows)},
                options,
                delivery=Delivery.EMAIL if email else Delivery.BACKGROUND,
            )
        except ExportRefused as exc:
            self.counts[f"refused: {exc}"] += 1
            person.next_at = time.monotonic() + 1
            return
        person.pending = str(accepted.audit.pk)
        self.requested += 1
        if email:
            self.email_audits.add(person.pending)

    def fetch_or_delete(self, person: Person) -> None:
        pk = person.files[0]
        if person.client is None:
            client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
            client.force_login(person.user)
            person.client = client  # only once logged in: a failed login is tried again
        person.files.pop(0)
        if self.rng.random() < 0.6:
            self.download(person.client, pk)
        if self.rng.random() < 0.3:
            response = person.client.post(f"/downloads/{pk}/delete/")
            self.counts[f"delete: HTTP {response.status_code}"] += 1
        person.next_at = time.monotonic() + self.rng.uniform(0, 0.5)

    def download(self, client: Client, pk: str) -> None:
        response = client.get(f"/downloads/{pk}/")
        if response.status_code == 302:  # a presigned URL of the object store
            try:
                with urlopen(response["Location"], timeout=10) as fetched:  # noqa: S310
                    while fetched.read(1 << 16):
                        pass
                self.counts["download: ok"] += 1
            except (URLError, OSError) as exc:
                self.counts[f"download: {type(exc).__name__}"] += 1
            return
        if response.status_code == 200:
            for _ in response.streaming_content:
                pass
            response.close()
            self.counts["download: ok"] += 1
            return
        self.counts[f"download: HTTP {response.status_code}"] += 1

    def step(self, now: float) -> None:
        self.attempt("watch", self.watch)
        for person in self.people:
            if now < person.next_at:
                continue
            if person.files:
                self.attempt("download/delete", lambda p=person: self.fetch_or_delete(p))
            elif person.pending is None and self.requested < self.spec.exports:
                self.attempt("request", lambda p=person: self.ask(p))

    # --- the whole run ---------------------------------------------------------------------

    def run(self) -> dict:
        self.prepare()
        started = time.monotonic()
        timers = {"sweep": 0.0, "purge": 0.0}
        settle_until = None
        load_until = started + self.spec.load_seconds
        while True:
            now = time.monotonic()
            self.step(now)
            if now >= timers["sweep"]:
                self.attempt("sweep", sweep)
                timers["sweep"] = now + self.spec.sweep_every
            if now >= timers["purge"]:
                self.attempt("purge", purge_expired)
                timers["purge"] = now + self.spec.purge_every
            everyone_asked = self.requested >= self.spec.exports or now > load_until
            if settle_until is None and everyone_asked and self.faults_over():
                settle_until = now + self.spec.settle_seconds
            self.report_status("load" if settle_until is None else "settle")
            if settle_until is not None and (self.settled() or now > settle_until):
                break
            time.sleep(TICK)
        self.report_status("check")
        return self.finish(time.monotonic() - started)

    def settled(self) -> bool:
        try:
            return not ExportAudit.objects.filter(status__in=PENDING).exists()
        except DatabaseError:
            return False

    def finish(self, wall: float) -> dict:
        # Everything has ended: let the purge (and its orphan scan) run once, as the schedule
        # would, then count what it left.
        self.attempt("watch", self.watch)  # the last exports may have ended since the last tick
        self.attempt("purge", purge_expired)
        figures = ledger.check()
        if figures.orphans_in_grace:  # prove that those go too: once old enough, purge again
            time.sleep(app_settings.ORPHAN_GRACE_SECONDS + 1)
            self.attempt("purge", purge_expired)
            figures = ledger.check()
        mails = self.mail_figures()
        figures.duplicates += mails.pop("files_mailed_twice", 0)
        report = {
            **figures.as_dict(),
            **mails,
            "load_seconds": round(wall, 1),
            "client_steps": dict(sorted(self.counts.items())),
        }
        (self.workdir / "report.json").write_text(json.dumps(report))
        self.report_status("done")
        return report

    def mail_figures(self) -> dict:
        """Ready e-mails per file, as the SMTP server received them (when there is one)."""
        if not self.spec.mail_dir:
            return {}
        per_file: Counter[str] = Counter()
        for path in Path(self.spec.mail_dir).glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            per_file.update(set(LINK.findall(message.get_body().get_content())))
        completed_email = [a for a in self.email_audits if a in self.file_of]
        unsent = set(
            str(pk)
            for pk in ExportAudit.objects.filter(
                pk__in=completed_email, notes__startswith="E-mail not sent"
            ).values_list("pk", flat=True)
        )
        missing = [a for a in completed_email if not per_file[self.file_of[a]] and a not in unsent]
        return {
            "emails_sent": sum(per_file.values()),
            "emails_expected": len(completed_email),
            "emails_missing": len(missing),
            "emails_missing_for": {
                str(pk): f"{finished:%H:%M:%S.%f}"[:-3]
                for pk, finished in ExportAudit.objects.filter(pk__in=missing[:20]).values_list(
                    "pk", "finished_at"
                )
            },
            "emails_not_sent_noted": len(unsent),
            "files_mailed_twice": sum(1 for n in per_file.values() if n > 1),
        }


def run_crowd(spec_path: str) -> dict:
    logging.basicConfig(level=os.environ.get("EXPORTS_LOG_LEVEL", "WARNING"))
    return Crowd(CrowdSpec.read(spec_path)).run()
