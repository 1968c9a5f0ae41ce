"""A load run on the current configuration: many users, many exports at once, one worker.

Reports what a reliability claim needs: every export ends, exactly one file each, how long
people wait, and how much memory the worker takes.
"""

import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Count
from django.test import override_settings

from exportdesk_tools.processes import database_env, django_command, stop
from exports.datasets.access import EXPORT_PERMISSION
from exports.datasets.registry import get_dataset
from exports.jobs.accept import queue_export
from exports.models import PENDING, ExportAudit, ExportStatus

FORMATS = ["csv", "json", "xlsx", "tsvzip", "sqlite", "ods"]


@dataclass
class Report:
    exports: int
    users: int
    workers: int
    broker: str
    completed: int
    failed: int
    cancelled: int
    duplicates: int
    lost: int
    p50_seconds: float | None
    p95_seconds: float | None
    wall_seconds: float
    worker_peak_rss_mb: float


def load_users(count: int, dataset: str, prefix: str = "loaduser") -> list:
    """Staff users who may export `dataset`: exports.export_data and what it requires."""
    User = get_user_model()
    needed = [EXPORT_PERMISSION, *get_dataset(dataset).required_permissions()]
    perms = [
        Permission.objects.get(content_type__app_label=label, codename=codename)
        for label, codename in (name.split(".", 1) for name in needed)
    ]
    users = []
    for n in range(count):
        name = f"{prefix}{n:02d}@load.invalid"
        user, _ = User.objects.get_or_create(
            **{User.USERNAME_FIELD: name},
            defaults={User.get_email_field_name(): name, "is_staff": True},
        )
        user.user_permissions.add(*perms)
        users.append(User.objects.get(pk=user.pk))  # fresh permission cache
    return users


def tree_peak_rss_mb(root_pid: int) -> float:
    """Largest VmHWM among the worker process and its children (Linux /proc)."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        if root_pid in (pid, ppid) and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]))
    return round(peak / 1024, 1)


def run_load(
    dataset: str, exports: int, users: int, workers: int, rows: int, timeout: float
) -> Report:
    people = load_users(users, dataset)
    # Q_WORKERS is read by the demo's settings; other projects ignore it.
    argv, env = django_command("qcluster", Q_WORKERS=str(workers), **database_env())
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    peak = 0.0
    try:
        ids = []
        with override_settings(EXPORTS_MAX_PENDING_PER_USER=exports):
            for n in range(exports):
                user = people[n % users]
                filters = {"limit": rows + n}  # distinct, so none is a duplicate of another
                fmt = FORMATS[n % len(FORMATS)]
                ids.append(queue_export(user, dataset, fmt, filters).audit.pk)
        audits = ExportAudit.objects.filter(pk__in=ids)
        deadline = started + timeout
        while audits.filter(status__in=PENDING).exists() and time.monotonic() < deadline:
            peak = max(peak, tree_peak_rss_mb(worker.pid))
            time.sleep(0.5)
        peak = max(peak, tree_peak_rss_mb(worker.pid))
    finally:
        stop(worker)
    return summarise(audits, exports, users, workers, time.monotonic() - started, peak)


def percentile(sorted_values: list[float], q: int) -> float | None:
    """Nearest-rank percentile; None when nothing completed."""
    if not sorted_values:
        return None
    rank = max(1, -(-q * len(sorted_values) // 100))  # ceil(q * n / 100)
    return round(sorted_values[rank - 1], 2)


def summarise(audits, exports, users, workers, wall, peak) -> Report:
    by_status = dict(audits.values_list("status").annotate(n=Count("pk")))
    files = audits.annotate(files=Count("download")).filter(files__gt=1).count()
    waits = sorted(
        (a.finished_at - a.queued_at).total_seconds()
        for a in audits.filter(status=ExportStatus.COMPLETED)
    )
    return Report(
        exports=exports,
        users=users,
        workers=workers,
        broker="orm" if settings.Q_CLUSTER.get("orm") else "redis",
        completed=by_status.get(ExportStatus.COMPLETED, 0),
        failed=by_status.get(ExportStatus.FAILED, 0),
        cancelled=by_status.get(ExportStatus.CANCELLED, 0),
        duplicates=files,
        lost=sum(by_status.get(s, 0) for s in PENDING),
        p50_seconds=percentile(waits, 50),
        p95_seconds=percentile(waits, 95),
        wall_seconds=round(wall, 1),
        worker_peak_rss_mb=peak,
    )


__all__ = ["Report", "asdict", "run_load"]
