import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection

from exportdesk_tools.processes import stop
from project.demo.seed import top_up

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    """From Django 6.1 on, a deprecated setting (EMAIL_* instead of MAILERS) or API fails the
    test that uses it. The class does not exist on 5.2, where naming it in the pytest
    configuration would be an error."""
    from django.utils import deprecation

    if hasattr(deprecation, "RemovedInDjango2028Warning"):
        config.addinivalue_line(
            "filterwarnings", "error::django.utils.deprecation.RemovedInDjango2028Warning"
        )


# Tests whose outcome does not depend on the Django version: files read back by LibreOffice and
# R, memory bounds, chaos, load and fault runs on real servers, the wheel's packaging. The
# Django 6.1 lane (`make test-dj61`) leaves them out: it runs what Django 6.1 can change.
ONE_LANE_PATHS = (
    "tests/scaleout/",
    "tests/faults/",
    "tests/test_chaos.py",
    "tests/test_export_load.py",
    "tests/test_formats_libreoffice.py",
    "tests/test_formats_r.py",
    "tests/test_formats_memory.py",
    "tests/test_sentlog_bench.py",
    "tests/test_translations.py",
    "tests/security/test_formula_text.py",
    "tests/queues/test_on_celery.py",  # Celery does not change with Django
)
ONE_LANE_TESTS = (
    "test_the_wheel_is_the_exports_app_with_its_templates_and_migrations",
    "test_optional_features_are_extras_and_psycopg_is_not_forced_binary",
    "test_the_wheel_alone_pulls_in_no_s3_client_redis_or_psycopg_binary",
    "test_the_s3_extra_pulls_in_django_storages_and_boto3",
    "test_check_names_the_extra_a_setting_needs",
    "test_check_names_the_extra_the_chosen_queue_needs",  # the host has Django 5.2
)


# pytest-xdist: every lane of `make test` runs on two workers (`-n 2 --dist loadgroup
# --no-loadscope-reorder`, Makefile XDIST). A module is one group, so its tests stay on one
# worker and its module fixtures (a wheel and a venv, LibreOffice conversions, memory probes)
# are built once. The CPU-heavy runs (real clusters killed and restarted, hundreds of exports,
# memory probes) share one group: they never run beside each other.
HEAVY_PATHS = (
    "tests/test_chaos.py",
    "tests/test_export_load.py",
    "tests/test_formats_memory.py",
    "tests/scaleout/test_chaos_scaleout.py",
)
# The longest groups (test-pg, 2026-12-07, seconds on a worker: fastpath 273, heavy 340,
# libreoffice 136, reusable app 112, exact rows 73): handed out first, so neither worker is
# left with a long module at the end while the other one idles. The rest keep their order.
SLOW_FIRST = (
    "heavy",
    "tests/test_fastpath.py",
    "tests/test_formats_libreoffice.py",
    "tests/test_reusable_app.py",
    "tests/test_exact_rows.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).relative_to(ROOT).as_posix()
        if path.startswith(ONE_LANE_PATHS) or item.originalname in ONE_LANE_TESTS:
            item.add_marker(pytest.mark.one_lane)
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group("heavy" if path in HEAVY_PATHS else path))
    if hasattr(config, "workerinput"):  # an xdist worker: every worker sorts the same way
        items.sort(key=slow_first)


def slow_first(item: pytest.Item) -> int:
    """Sort key: the groups of SLOW_FIRST in their order, then everything else (stable)."""
    group = item.get_closest_marker("xdist_group").args[0]
    return SLOW_FIRST.index(group) if group in SLOW_FIRST else len(SLOW_FIRST)


def wait_for(condition: Callable[[], T], timeout: float = 60, what: str = "condition") -> T:
    """Poll until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(autouse=True)
def exports_root(tmp_path: Path, settings) -> Path:
    """Every test gets its own exports folder."""
    root = tmp_path / "exports-storage"
    settings.EXPORTS_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def make_user(username: str, *, staff: bool | None = None, export: bool = False) -> User:
    """`export`: may export the demo's points, which takes staff too unless `staff=False`."""
    user = User.objects.create_user(
        username,
        f"{username}@example.com",
        "pw-" + username,
        is_staff=export if staff is None else staff,
    )
    if export:
        user.user_permissions.add(
            Permission.objects.get(codename="export_data"),
            Permission.objects.get(codename="view_userpoint"),
        )
    return user


@pytest.fixture
def staff(db) -> User:
    return make_user("staffer", staff=True, export=True)


@pytest.fixture
def alice(db) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db) -> User:
    return make_user("bob")


@pytest.fixture
def demo_data(db) -> None:
    top_up(300)


def database_url() -> str:
    """The test database as a DATABASE_URL for a worker process: exactly the one this test
    uses (for SQLite the `test_…` file Django created, never an in-memory database)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        assert not connection.creation.is_in_memory_db(s["NAME"]), "a worker cannot share it"
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def spawn_qcluster(
    exports_root: Path, log: Path, env: dict[str, str] | None = None, **extra: str
) -> subprocess.Popen:
    """A real `manage.py qcluster` on the test database. It needs the settings module and the
    test database named explicitly, or it inherits the wrong ones."""
    full_env = {
        **(os.environ if env is None else env),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url(),
        "EXPORTS_ROOT": str(exports_root),
        "Q_WORKERS": "1",
        **extra,
    }
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def qcluster(exports_root: Path, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """The real django-q2 worker, on the test database (tests must be transactional)."""
    proc = spawn_qcluster(exports_root, tmp_path / "qcluster.log")
    try:
        yield proc
    finally:
        stop(proc)


@pytest.fixture
def smtp_server() -> Iterator[tuple]:
    """A real SMTP server on loopback for worker processes: (inbox, port)."""
    from tests.schedules import smtp_server as serving

    with serving() as server:
        yield server
