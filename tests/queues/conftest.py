"""Real workers of the queues other than django-q2 (exports.queues): `celery -A project worker`
on a throwaway Redis, and django-tasks-db's `manage.py db_worker`, each a subprocess on the
test database. No qcluster is started here. Ports and folders are free/temporary ones, so
pytest-xdist workers do not meet."""

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from exportdesk_tools.processes import children_of
from exportdesk_tools.servers import RedisServer, stop
from tests.conftest import ROOT, database_url, wait_for

# Timings short enough for a test (exportdesk_tools.chaos.QUICK_FAULTS): a killed attempt is
# stale after 6 s, and every clock minute sends the sweep and the purge.
QUICK = {
    "EXPORTS_HEARTBEAT_SECONDS": "1",
    "EXPORTS_STALE_SECONDS": "6",
    "EXPORTS_SWEEP_MINUTES": "1",
    "EXPORTS_PURGE_MINUTES": "1",
}


@dataclass
class Queue:
    """One queue under test: its EXPORTS_QUEUE name, the environment of every process that
    uses it, and the workers started for the test (all stopped at its end)."""

    name: str
    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen] = field(default_factory=list)

    def worker_argv(self, label: str) -> list[str]:
        if self.name == "celery":
            return [sys.executable, "-m", "celery", "-A", "project", "worker", "-P", "prefork",
                    "-c", "1", "-n", f"{label}@%h", "--without-gossip", "--without-mingle",
                    "--without-heartbeat", "-l", "info"]  # fmt: skip
        return [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2",
                "--no-startup-delay"]  # fmt: skip

    def start_worker(self, label: str = "worker") -> subprocess.Popen:
        """A worker, once it says it is ready: Celery's "ready.", db_worker's "Starting"."""
        log = self.log(label)
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                self.worker_argv(label), cwd=ROOT, env=self.env, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.started.append(proc)
        ready = "ready." if self.name == "celery" else "Starting worker"
        wait_for(lambda: proc.poll() is not None or ready in log.read_text(), what=f"{label}")
        assert proc.poll() is None, log.read_text()
        return proc

    def log(self, label: str) -> Path:
        return self.logs / f"{label}.log"

    def busy_process(self, worker: subprocess.Popen) -> int:
        """The process that runs the jobs: Celery's pool child, or db_worker itself."""
        return children_of(worker.pid)[0] if self.name == "celery" else worker.pid

    def logged(self, *texts: str) -> bool:
        """Whether a line of some worker's log holds each of `texts`."""
        logs = "".join(path.read_text(errors="replace") for path in self.logs.glob("*.log"))
        return any(all(t in line for t in texts) for line in logs.splitlines())

    def ran(self, audit) -> bool:
        """Whether a worker ran (and finished) the job of this export: Celery logs it by its
        name, django-tasks-db keeps a result row."""
        if self.name == "celery":
            return self.logged(f"export-{audit.pk}[", "succeeded")
        from django_tasks_db.models import DBTaskResult

        args = ["exports.jobs.accept.run_export", [str(audit.pk)]]
        done = DBTaskResult.objects.filter(args_kwargs__args=args, status="SUCCESSFUL")
        return done.exists()

    def manage(self, *args: str) -> str:
        """A management command with this queue's environment, e.g. the clock."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def stop_all(self) -> None:
        """All at once, and SIGKILL what does not stop: the test is over, so Celery gets its
        cold shutdown (SIGQUIT), db_worker its SIGTERM."""
        quit = signal.SIGQUIT if self.name == "celery" else signal.SIGTERM
        running = [proc for proc in self.started if proc.poll() is None]
        for proc in running:
            proc.send_signal(quit)
        stop(*running, timeout=20)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def worker_env(name: str, exports_root: Path, smtp_port: int, **extra: str) -> dict[str, str]:
    """What a worker of the test needs named explicitly, or it inherits the wrong settings."""
    import os

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url(),
        "EXPORTS_ROOT": str(exports_root),
        "EXPORTS_QUEUE": name,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        **QUICK,
        **extra,
    }


def send_celery_to(url: str) -> None:
    """The test process sends to the test's Redis: the demo's Celery app (project/celery.py,
    loaded with Django) read its broker from settings that had none. Its pools are built on
    first use, so they are dropped as Celery does after a fork."""
    from project.celery import app

    app.conf.broker_url = url
    app._after_fork()


@pytest.fixture
def celery_queue(redis_server, smtp_server, exports_root, tmp_path, settings) -> Iterator[Queue]:
    settings.EXPORTS_QUEUE = "celery"
    send_celery_to(redis_server.url)
    env = worker_env("celery", exports_root, smtp_server[1], CELERY_BROKER_URL=redis_server.url)
    queue = Queue("celery", env, tmp_path)
    try:
        yield queue
    finally:
        queue.stop_all()


@pytest.fixture
def tasks_queue(smtp_server, exports_root, tmp_path, settings) -> Iterator[Queue]:
    settings.EXPORTS_QUEUE = "tasks"
    queue = Queue("tasks", worker_env("tasks", exports_root, smtp_server[1]), tmp_path)
    try:
        yield queue
    finally:
        queue.stop_all()
