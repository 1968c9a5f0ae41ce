"""The faults a chaos run injects, planned from a seed, and the worker processes of the chosen
queue it injects them into ("clusters": `qcluster`s, `celery worker`s or `db_worker`s).

Every target is a process this run started itself: a worker (the process of one of our clusters
that holds an export's scratch file open), a whole cluster, our throwaway PostgreSQL, our
Redis, our SeaweedFS.
"""

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from exportdesk_tools.processes import parent_pids, stop

ROOT = Path(__file__).resolve().parents[1]


def demo_command(*args: str) -> list[str]:
    """argv of the demo's `manage.py <args>`, to run with cwd=ROOT in the chaos environment."""
    return [sys.executable, "manage.py", *args]


def cluster_command(queue: str, workers: int, index: int) -> list[str]:
    """argv of one cluster on `queue`, as the README's set-up for that queue runs it: a
    `qcluster` (its workers from Q_WORKERS); a `celery worker` with `workers` prefork children;
    a `db_worker`, which runs one task at a time (a run starts `workers` of them)."""
    if queue == "celery":
        return [
            sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel", "WARNING",
            "--concurrency", str(workers), "--hostname", f"chaos{index}@%h",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
    if queue == "tasks":
        return demo_command("db_worker", "--no-reload")
    return demo_command("qcluster")


def clock_command(queue: str, workdir: Path) -> list[str] | None:
    """argv of the queue's clock for the periodic jobs; django-q2's is inside the qcluster."""
    if queue == "celery":
        schedule = str(workdir / "celerybeat-schedule")
        return [
            sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel", "WARNING",
            "--schedule", schedule,
        ]  # fmt: skip
    if queue == "tasks":
        return demo_command("exports_clock")
    return None


DEFAULT_KINDS = ("worker_kill", "cluster_kill", "pg_restart")
SCALEOUT_KINDS = (*DEFAULT_KINDS, "redis_restart", "s3_outage")


@dataclass
class Fault:
    kind: str
    at: float  # the fraction of exports finished when it strikes
    pause: float  # seconds a killed cluster or a stopped object store stays down
    detail: str = ""
    seconds: float = 0.0  # how long injecting (and recovering from) it took
    when: str = ""  # wall-clock time it struck (UTC), to read beside the logs


def plan(seed: int, kinds: tuple[str, ...], per_kind: int) -> list[Fault]:
    """`per_kind` faults of each kind at seeded moments between 5% and 85% of the load."""
    rng = random.Random(seed)
    faults = [
        Fault(kind, round(rng.uniform(0.05, 0.85), 3), round(rng.uniform(1.0, 5.0), 1))
        for kind in kinds
        for _ in range(per_kind)
    ]
    return sorted(faults, key=lambda f: f.at)


class Clusters:
    """Processes on the chaos environment (one argv per cluster in `commands`), each in a
    session of its own (so that stopping one also ends whatever it left behind: a qcluster's
    sentinel, a celery worker's pool), logging to a file; restarted when they exit, as a
    process supervisor would."""

    def __init__(
        self, env: dict[str, str], commands: list[list[str]], logdir: Path, name: str = "qcluster"
    ) -> None:
        self.env, self.logdir, self.commands, self.name = env, logdir, commands, name
        self.procs: list[subprocess.Popen | None] = [None] * len(commands)
        self.started_at = [0.0] * len(commands)
        self.started = 0

    def start(self, index: int) -> None:
        self.started += 1
        self.started_at[index] = time.monotonic()
        with open(self.logdir / f"{self.name}-{index}.log", "ab") as log:
            self.procs[index] = subprocess.Popen(
                self.commands[index],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_all(self) -> None:
        for index in range(len(self.procs)):
            self.start(index)

    def revive(self, every: float = 3.0) -> None:
        """Start again a cluster that exited (a qcluster started while Redis was down exits at
        once; a db_worker exits when the database goes away)."""
        for index, proc in enumerate(self.procs):
            waited = time.monotonic() - self.started_at[index]
            if proc is not None and proc.poll() is not None and waited >= every:
                end_group(proc)
                self.start(index)

    def kill(self, index: int) -> int:
        """SIGKILL the whole cluster at once; returns how many processes it had."""
        proc = self.procs[index]
        if proc is None or proc.poll() is not None:
            return 0
        count = 1 + sum(1 for pid in parent_pids() if in_group(pid, proc.pid))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return count

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc is not None:
                stop(proc, timeout=20)
                end_group(proc)

    def workers(self) -> list[int]:
        """Every process of every running cluster: a qcluster's sentinel and its workers, a
        celery worker's pool, a db_worker itself (it runs its task in-process)."""
        parents = parent_pids()
        found = {proc.pid for proc in self.procs if proc is not None and proc.poll() is None}
        frontier = set(found)
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
            found |= frontier
        return sorted(found)

    def busy_workers(self, tmp_dir: Path) -> list[int]:
        """Workers writing an export now: they hold a file open in EXPORTS_TMP_DIR."""
        return [pid for pid in self.workers() if holds_file_under(pid, tmp_dir)]


def in_group(pid: int, group: int) -> bool:
    try:
        return pid != group and os.getpgid(pid) == group
    except OSError:
        return False


def end_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of an exited cluster's session (a sentinel and workers whose
    main process is gone keep running otherwise)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def holds_file_under(pid: int, folder: Path) -> bool:
    prefix = str(folder) + os.sep
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                return True
        except OSError:
            continue
    return False


def kill_worker(clusters: Clusters, tmp_dir: Path, rng: random.Random, wait: float = 30) -> str:
    """SIGKILL a worker in the middle of an export, as the OOM killer would. Never an idle one:
    django-q2's idle worker waits for a task holding the task queue's lock, and dying with it
    leaves the whole cluster stuck (a multiprocessing.Queue limitation). Clusters that exited
    are started again while it waits (db_workers exit when PostgreSQL restarts): the
    supervisor does not pause for the fault injector."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        clusters.revive()
        busy = sorted(clusters.busy_workers(tmp_dir))
        if busy:
            victim = rng.choice(busy)
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                continue  # it finished meanwhile
            return f"SIGKILL a busy worker (pid {victim})"
        time.sleep(0.1)
    return f"not injected: no worker was busy for {wait:.0f}s"


def kill_cluster(clusters: Clusters, rng: random.Random, pause: float) -> str:
    """SIGKILL a whole cluster and everything under it, then start a new one."""
    index = rng.randrange(len(clusters.procs))
    victims = clusters.kill(index)
    time.sleep(pause)
    clusters.start(index)
    return f"SIGKILL {clusters.name} {index} ({victims} processes); restarted after {pause}s"
