"""`export_load --chaos`: the usual load, faults at seeded moments, then a ledger of the result.

This process is the conductor. It starts every server it will hurt (a throwaway PostgreSQL;
for the scale-out configuration Redis and SeaweedFS too, and Redis for Celery; an SMTP server
when aiosmtpd is installed), all on loopback and free ports, and the chosen queue's clusters
(qclusters, celery workers or db_workers) and its clock; it plays no user itself. The
crowd (`export_load --chaos-client`, exportdesk_tools.crowd) runs in a child process configured
by environment variables exactly like a deployment, and reports its progress in a status
file. When the finished fraction reaches a fault's seeded moment, the conductor injects it.
After the last one it tells the crowd, which waits (bounded) for everything to settle and
writes the ledger. Every loop has a count or a deadline.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from exportdesk_tools.crowd import CrowdSpec
from exportdesk_tools.faults import (
    DEFAULT_KINDS,
    ROOT,
    SCALEOUT_KINDS,
    Clusters,
    Fault,
    clock_command,
    cluster_command,
    demo_command,
    kill_cluster,
    kill_worker,
    plan,
)
from exportdesk_tools.pgserver import PostgresServer
from exportdesk_tools.processes import stop
from exportdesk_tools.servers import MailSink, RedisServer, SeaweedFS, tail

# A dead worker noticed in seconds, a lost job re-sent in seconds, orphans kept briefly: the
# same mechanisms as in production, on a clock a short run can watch.
QUICK_FAULTS = {
    "EXPORTS_HEARTBEAT_SECONDS": "1",
    "EXPORTS_STALE_SECONDS": "6",
    "EXPORTS_REQUEUE_AFTER_SECONDS": "15",
    "EXPORTS_ORPHAN_GRACE_SECONDS": "20",
    "EXPORTS_SWEEP_MINUTES": "1",
    "EXPORTS_PURGE_MINUTES": "1",
    "EXPORTS_OUTAGE_SECONDS": "25",
    "Q_TIMEOUT": "40",
    "Q_RETRY": "50",
}
# Settings of the calling environment that must not leak into the run's own.
CLEARED = (
    "EXPORTS_", "Q_", "EMAIL_", "DATABASE_URL", "REDIS_URL", "EXPORTDESK_VAR_DIR", "CELERY_",
)  # fmt: skip
CONFIGS = {"default": (DEFAULT_KINDS, 1), "scaleout": (SCALEOUT_KINDS, 2)}  # kinds, clusters
QUEUES = ("django_q", "celery", "tasks")
# What a cluster is called on each queue, in the report and the logs.
CLUSTER_NAMES = {"django_q": "qcluster", "celery": "celery-worker", "tasks": "db_worker"}
BUCKET = "exports"
CONSOLE_MAIL = "django.core.mail.backends.console.EmailBackend"


@dataclass
class ChaosOptions:
    config: str = "default"
    queue: str = "django_q"
    dataset: str = "user_points"
    seed: int = 1
    exports: int = 60
    users: int = 12
    rows: int = 2000
    workers: int = 2
    faults_per_kind: int = 0  # 0: one per 150 exports, at least one
    timeout: float = 1800
    settle_seconds: float = 180
    keep: bool = False

    def per_kind(self) -> int:
        return self.faults_per_kind or max(1, self.exports // 150)

    def clusters(self) -> int:
        """A db_worker runs one task at a time: `workers` of them stand for one cluster."""
        count = CONFIGS[self.config][1]
        return count * self.workers if self.queue == "tasks" else count

    def workers_per_cluster(self) -> int:
        return 1 if self.queue == "tasks" else self.workers


@dataclass
class Stage:
    """Everything the faults may strike."""

    pg: PostgresServer
    clusters: Clusters
    tmp_dir: Path
    clock: Clusters | None = None
    redis: RedisServer | None = None
    s3: SeaweedFS | None = None


def restart_postgres(stage: Stage, fault: Fault, rng: random.Random) -> str:
    stage.pg.restart("fast")
    return "pg_ctl restart -m fast"


def restart_redis(stage: Stage, fault: Fault, rng: random.Random) -> str:
    stage.redis.stop()
    time.sleep(fault.pause)
    stage.redis.start()
    return f"redis-server stopped, down {fault.pause}s, started again (its queue lost)"


def stop_object_store(stage: Stage, fault: Fault, rng: random.Random) -> str:
    began = time.monotonic()
    stage.s3.stop(timeout=10)
    stopped = time.monotonic() - began
    time.sleep(fault.pause)
    stage.s3.start()
    return (
        f"SeaweedFS stopped ({stopped:.1f}s to exit), paused {fault.pause}s, started again: "
        f"down {time.monotonic() - began:.1f}s in all"
    )


INJECTORS = {
    "worker_kill": lambda stage, fault, rng: kill_worker(stage.clusters, stage.tmp_dir, rng),
    "cluster_kill": lambda stage, fault, rng: kill_cluster(stage.clusters, rng, fault.pause),
    "pg_restart": restart_postgres,
    "redis_restart": restart_redis,
    "s3_outage": stop_object_store,
}


def base_env(workdir: Path, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    for folder in ("storage", "tmp", "var"):
        (workdir / folder).mkdir(exist_ok=True)
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "EXPORTDESK_VAR_DIR": str(workdir / "var"),
        "EXPORTS_ROOT": str(workdir / "storage"),
        "EXPORTS_TMP_DIR": str(workdir / "tmp"),
        "EXPORTS_LOG_LEVEL": "WARNING",
        "Q_WORKERS": str(workers),
        **QUICK_FAULTS,
    }


def manage(env: dict[str, str], *args: str, log: Path) -> None:
    with open(log, "ab") as out:
        subprocess.run(
            demo_command(*args), cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, check=True, timeout=300,
        )  # fmt: skip


def read_status(workdir: Path) -> dict:
    try:
        return json.loads((workdir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def inject_all(
    faults: list[Fault], stage: Stage, crowd: subprocess.Popen, workdir: Path, options
) -> None:
    """Each fault when its share of the exports has finished; none after the deadline."""
    rng = random.Random(options.seed + 1)
    deadline = time.monotonic() + options.timeout
    for fault in faults:
        while crowd.poll() is None and time.monotonic() < deadline:
            revive(stage)
            if read_status(workdir).get("final", 0) >= fault.at * options.exports:
                started = time.monotonic()
                fault.when = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
                fault.detail = INJECTORS[fault.kind](stage, fault, rng)
                fault.seconds = round(time.monotonic() - started, 1)
                break
            time.sleep(0.2)
        else:
            fault.detail = "not injected: the crowd stopped or the deadline passed"


def revive(stage: Stage) -> None:
    stage.clusters.revive()
    if stage.clock is not None:
        stage.clock.revive()


def supervise(stage: Stage, crowd: subprocess.Popen, timeout: float) -> None:
    """Keep the clusters and the clock running until the crowd has written its report."""
    deadline = time.monotonic() + timeout
    while crowd.poll() is None and time.monotonic() < deadline:
        revive(stage)
        time.sleep(0.5)


def start_servers(options: ChaosOptions, workdir: Path, stack: ExitStack) -> tuple:
    pg = PostgresServer(prefix="exportdesk-chaos-pg-")
    stack.callback(pg.remove)
    pg.start()
    env = base_env(workdir, options.workers)
    env["DATABASE_URL"] = pg.create_database("exportdesk")
    env.update(EXPORTS_QUEUE=options.queue, CELERY_WORKERS=str(options.workers))
    redis = s3 = None
    if options.config == "scaleout" or options.queue == "celery":
        redis = RedisServer(workdir)
        stack.callback(redis.stop)
        redis.start()
        env["REDIS_URL"] = redis.url  # Celery's broker (project/settings.py)
    if options.config == "scaleout":
        (workdir / "s3").mkdir()
        s3 = SeaweedFS(workdir / "s3")
        stack.callback(s3.stop)
        s3.start()
        s3.client().create_bucket(Bucket=BUCKET)
        env.update({"Q_BROKER": "redis", "REDIS_URL": redis.url, **s3.env(BUCKET)})
    return pg, redis, s3, env


def mail_sink(workdir: Path, stack: ExitStack) -> MailSink | None:
    """A real SMTP server when aiosmtpd is installed; else the console backend is used."""
    try:
        sink = MailSink(workdir / "mail")
    except ImportError:
        return None
    sink.start()
    stack.callback(sink.stop)
    return sink


def set_stage(options: ChaosOptions, workdir: Path, stack: ExitStack) -> tuple[Stage, dict]:
    """Servers, schema, the crowd's instructions, the clusters and the clock; all undone by
    `stack`."""
    pg, redis, s3, env = start_servers(options, workdir, stack)
    sink = mail_sink(workdir, stack)
    env.update(sink.env() if sink else {"EMAIL_BACKEND": CONSOLE_MAIL})
    manage(env, "migrate", "--noinput", "-v0", log=workdir / "migrate.log")
    # The demo's rows (the chaos run plays the demo project; exports imports nothing of it).
    rows = str(max(options.rows, 1000))
    manage(env, "seed_demo", "--rows", rows, log=workdir / "migrate.log")
    spec = CrowdSpec(
        dataset=options.dataset,
        seed=options.seed,
        exports=options.exports,
        users=options.users,
        rows=options.rows,
        workdir=str(workdir),
        settle_seconds=options.settle_seconds,
        load_seconds=options.timeout,
        mail_dir=str(sink.folder) if sink else "",
    )
    (workdir / "spec.json").write_text(json.dumps(asdict(spec)))
    clusters, clock = start_clusters(options, env, workdir, stack)
    return Stage(pg, clusters, workdir / "tmp", redis=redis, s3=s3, clock=clock), env


def start_clusters(
    options: ChaosOptions, env: dict[str, str], workdir: Path, stack: ExitStack
) -> tuple[Clusters, Clusters | None]:
    """The queue's clusters, and its clock where the queue has one outside them (Celery beat,
    `exports_clock`): the periodic jobs run as a host runs them, beside the crowd's own quick
    sweep and purge."""
    commands = [
        cluster_command(options.queue, options.workers, index)
        for index in range(options.clusters())
    ]
    clusters = Clusters(env, commands, workdir, CLUSTER_NAMES[options.queue])
    stack.callback(clusters.stop_all)
    clusters.start_all()
    clock_argv = clock_command(options.queue, workdir)
    if clock_argv is None:
        return clusters, None
    clock = Clusters(env, [clock_argv], workdir, "clock")
    stack.callback(clock.stop_all)
    clock.start_all()
    return clusters, clock


def run_chaos(options: ChaosOptions) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="exportdesk-chaos-", dir="/tmp"))  # noqa: S108
    began = time.monotonic()
    faults = plan(options.seed, CONFIGS[options.config][0], options.per_kind())
    try:
        with ExitStack() as stack:
            stage, env = set_stage(options, workdir, stack)
            crowd = start_crowd(env, workdir, options.dataset)
            stack.callback(stop, crowd, 10)
            inject_all(faults, stage, crowd, workdir, options)
            (workdir / "faults.done").touch()
            supervise(stage, crowd, options.settle_seconds + options.timeout + 300)
            report = read_report(workdir, crowd)
        report.update(
            config=options.config,
            queue=options.queue,
            seed=options.seed,
            qclusters=len(stage.clusters.procs),
            workers_per_qcluster=options.workers_per_cluster(),
            qclusters_started=stage.clusters.started,
            clocks_started=stage.clock.started if stage.clock else 0,
            scratch_left=sum(1 for _ in (workdir / "tmp").iterdir()),
            faults=[asdict(f) for f in faults],
            settings=QUICK_FAULTS,
            wall_seconds=round(time.monotonic() - began, 1),
        )
        if options.keep:
            (workdir / "chaos.json").write_text(json.dumps(report, indent=1))
    finally:
        if options.keep:
            print(f"chaos run folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def start_crowd(env: dict[str, str], workdir: Path, dataset: str) -> subprocess.Popen:
    command = demo_command("export_load", dataset, "--chaos-client", str(workdir / "spec.json"))
    with open(workdir / "crowd.log", "ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def read_report(workdir: Path, crowd: subprocess.Popen) -> dict:
    try:
        return json.loads((workdir / "report.json").read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            f"the crowd wrote no report (exit {crowd.returncode}):\n{tail(workdir / 'crowd.log')}"
        ) from exc


def summary_lines(report: dict) -> list[str]:
    """One line per figure, for people."""
    reasons = "; ".join(f"{n} × {why}" for why, n in report["failed_by_reason"].items())
    kinds: dict[str, int] = {}
    for fault in report["faults"]:
        if not fault["detail"].startswith("not injected"):
            kinds[fault["kind"]] = kinds.get(fault["kind"], 0) + 1
    lines = [
        f"configuration  {report['config']} on {report['queue']} (seed {report['seed']}, "
        f"{report['qclusters']} {CLUSTER_NAMES[report['queue']]}(s) x "
        f"{report['workers_per_qcluster']} workers)",
        "faults         " + (", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"),
        f"requested      {report['requested']}",
        f"completed      {report['completed']}",
        f"failed         {report['failed']}" + (f"  ({reasons})" if reasons else ""),
        f"cancelled      {report['cancelled']}",
        f"lost           {report['lost']}",
        f"duplicates     {report['duplicates']}",
        f"orphans        {report['orphans']} (+{report['orphans_in_grace']} within grace)",
        f"dangling       {report['dangling']}",
        f"leaked quota   {report['leaked_quota_bytes']} bytes",
        f"unreadable     {report['unreadable']} of {report['files_read']} files read back",
        f"p50 to ready   {report['p50_seconds']} s",
        f"p95 to ready   {report['p95_seconds']} s",
    ]
    if "emails_sent" in report:
        lines.append(
            f"e-mails        {report['emails_sent']} sent for {report['emails_expected']} "
            f"e-mail exports completed, {report['emails_missing']} missing"
        )
    lines.append(f"wall time      {report['wall_seconds']} s")
    return lines
