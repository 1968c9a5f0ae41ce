"""Real servers on loopback for the scale-out tests: Redis, SeaweedFS (S3) and qcluster workers.

The servers are session-scoped (one of each per pytest process), bound to 127.0.0.1 on free
ports, and stopped by their own PID at the end. A missing binary fails the run with the name of
the package that provides it (`make test` installs both); nothing is ever skipped.
"""

import os
import runpy
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
import redis
from django_q.conf import Conf

from exportdesk_tools.servers import RedisServer, SeaweedFS, ServerFailed, stop
from exports.delivery.storage import exports_storage
from tests.conftest import ROOT, spawn_qcluster

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


@contextmanager
def started(server: RedisServer | SeaweedFS) -> Iterator[None]:
    """Start it for the session; a missing binary or a failed start fails the run."""
    try:
        server.start()
    except ServerFailed as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def created(factory, workdir: Path):
    try:
        return factory(workdir)
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    server = created(RedisServer, tmp_path_factory.mktemp("redis"))
    with started(server):
        yield server.url


@pytest.fixture
def redis_broker(settings, monkeypatch, redis_url) -> str:
    """This test process enqueues through Redis, as a web server with Q_BROKER=redis would.

    django-q2 copies Q_CLUSTER into `django_q.conf.Conf` once, when it is first imported, and
    `get_broker()` decides from `Conf.ORM` / `Conf.REDIS` on every call; exports.jobs.accept decides
    between "send now" (ORM outbox) and "send on commit" from `settings.Q_CLUSTER`. So both are
    switched: settings.Q_CLUSTER to what the scale-out block builds for Q_BROKER=redis, and the
    two Conf attributes it derives (monkeypatch restores them after the test)."""
    redis.Redis.from_url(redis_url).flushdb()
    use_redis_broker(settings, monkeypatch, redis_url)
    return redis_url


def use_redis_broker(settings, monkeypatch, url: str) -> None:
    q_cluster = settings_from_env({"Q_BROKER": "redis", "REDIS_URL": url})["Q_CLUSTER"]
    settings.Q_CLUSTER = q_cluster
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", q_cluster["redis"])


# --- SeaweedFS (S3) ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[SeaweedFS]:
    server = created(SeaweedFS, tmp_path_factory.mktemp("seaweedfs"))
    with started(server):
        yield server


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
