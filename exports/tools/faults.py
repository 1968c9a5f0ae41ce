"""The faults a chaos run injects, planned from a seed, and the qclusters it injects them into.

Every target is a process this run started itself: a worker (a grandchild of a `qcluster` we
spawned), a whole `qcluster`, our throwaway PostgreSQL, our Redis, our SeaweedFS.
"""

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from exports.tools.processes import kill_tree, parent_pids, stop

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KINDS = ("worker_kill", "cluster_kill", "pg_restart")
SCALEOUT_KINDS = (*DEFAULT_KINDS, "redis_restart", "s3_outage")


@dataclass
class Fault:
    kind: str
    at: float  # the fraction of exports finished when it strikes
    pause: float  # seconds a killed cluster or a stopped object store stays down
    detail: str = ""
    seconds: float = 0.0  # how long injecting (and recovering from) it took


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
    """`manage.py qcluster` processes on the chaos environment; each logs to its own file."""

    def __init__(self, env: dict[str, str], count: int, logdir: Path) -> None:
        self.env, self.logdir = env, logdir
        self.procs: list[subprocess.Popen | None] = [None] * count
        self.started = 0

    def start(self, index: int) -> None:
        self.started += 1
        with open(self.logdir / f"qcluster-{index}.log", "ab") as log:
            self.procs[index] = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start_all(self) -> None:
        for index in range(len(self.procs)):
            self.start(index)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc is not None:
                stop(proc, timeout=20)

    def workers(self) -> list[int]:
        """Grandchildren of each qcluster: its sentinel's workers, pusher and monitor."""
        parents = parent_pids()
        mains = {proc.pid for proc in self.procs if proc is not None and proc.poll() is None}
        sentinels = {pid for pid, parent in parents.items() if parent in mains}
        return [pid for pid, parent in parents.items() if parent in sentinels]

    def busy_workers(self, tmp_dir: Path) -> list[int]:
        """Workers writing an export now: they hold a file open in EXPORTS_TMP_DIR."""
        return [pid for pid in self.workers() if holds_file_under(pid, tmp_dir)]


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


def kill_worker(clusters: Clusters, tmp_dir: Path, rng: random.Random) -> str:
    """SIGKILL a worker in the middle of an export (waits up to 10 s for one to be busy)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        busy = sorted(clusters.busy_workers(tmp_dir))
        if busy:
            victim, what = rng.choice(busy), "a busy worker"
            break
        time.sleep(0.1)
    else:
        candidates = sorted(clusters.workers())
        if not candidates:
            return "no worker process to kill"
        victim, what = rng.choice(candidates), "an idle qcluster child"
    try:
        os.kill(victim, signal.SIGKILL)
    except ProcessLookupError:
        return f"{what} (pid {victim}) had already exited"
    return f"SIGKILL {what} (pid {victim})"


def kill_cluster(clusters: Clusters, rng: random.Random, pause: float) -> str:
    """SIGKILL a whole qcluster and everything under it, then start a new one."""
    index = rng.randrange(len(clusters.procs))
    proc = clusters.procs[index]
    victims = kill_tree(proc) if proc is not None and proc.poll() is None else []
    time.sleep(pause)
    clusters.start(index)
    return f"SIGKILL qcluster {index} and its {len(victims)} processes; restarted after {pause}s"
