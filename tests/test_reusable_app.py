"""Exportdesk in brand-new projects, the way a team adds it: build the wheel once, install it
in one fresh venv, and for each host `django-admin startproject`, apply the README's setup word
for word, then drive the real thing. The hosts:

- a custom user model (e-mail login, UUID pk) and a model with a UUID pk, in a non-UTC zone:
  a runserver and a qcluster, login, Export… of 3 ticked rows, the CSV from My downloads; the
  same on a second AdminSite that gets Export… from enable_export(); files kept outside the
  project's checkout;
- USE_TZ = False in a non-UTC zone: the same flow end to end;
- a templates/base.html that cannot render without the host's own tag library: the app's
  pages still answer 200;
- the host's own test suite (`manage.py test`: a model, the admin, an export, the app's
  pages), which passes with no line for Exportdesk's sake.
"""

import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

import pytest

from exportdesk_tools.processes import stop
from tests.conftest import ROOT, wait_for

PASSWORD = "a-long-pw-for-the-host"  # noqa: S105 - a throwaway test account
EMAIL = "owner@example.com"

SHOP_MODELS = """
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = UserManager()


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.number
"""

SHOP_ADMIN = """
from django.contrib import admin
from exports.admin import ExportMixin

from shop.models import Order, User


@admin.register(Order)
class OrderAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ["number", "total", "created"]


admin.site.register(User)
"""

SHOP_DATASETS = """
from exports.datasets import Column, Dataset, registry

registry.register(
    Dataset(
        name="orders",
        title="Orders",
        model_label="shop.Order",
        columns=(Column("number", "number"), Column("total", "total")),
        filters={"created": "created"},
    )
)
"""

# The host's own second admin, in its URLconf: the worker finds it there too.
BACKOFFICE_URLS = """
from exports.admin import enable_export
from shop.models import Order

backoffice = admin.AdminSite(name="backoffice")
backoffice.register(Order)
enable_export(site=backoffice)
urlpatterns += [path("backoffice/", backoffice.urls)]
"""


# A base.html that fails loudly wherever it is extended: the host's own tag library is not
# installed here, as a host's context processor or tags would be missing from any other app.
HOST_BASE_HTML = """{% load the_hosts_own_tags %}<!doctype html>
<title>{% site_title %}</title>{% block content %}{% endblock %}
"""

HOST_HOME_HTML = """{% extends "base.html" %}{% block content %}Home{% endblock %}"""

HOST_HOME_URLS = """
from django.views.generic import TemplateView

urlpatterns += [path("home/", TemplateView.as_view(template_name="shop/home.html"))]
"""

# The host's own test suite: nothing in its settings is there for Exportdesk's sake.
HOST_TESTS = """
import csv
import io
import re

from django.test import TestCase

from shop.models import Order, User


class OrderTests(TestCase):
    def test_an_order_is_saved_and_read_back(self):
        Order.objects.create(number="A-1", total=3)
        self.assertEqual(Order.objects.get().number, "A-1")


class StaffTestCase(TestCase):
    def setUp(self):
        self.client.force_login(User.objects.create_superuser("staff@example.com", "pw"))


class AdminTests(StaffTestCase):
    def test_the_admin_lists_the_orders(self):
        Order.objects.create(number="A-1", total=3)
        self.assertEqual(self.client.get("/admin/").status_code, 200)
        self.assertContains(self.client.get("/admin/shop/order/"), "A-1")


class ExportTests(StaffTestCase):
    def test_ticked_orders_download_at_once(self):
        ids = [str(Order.objects.create(number=f"B-{n}", total=n).pk) for n in range(3)]
        ticked = {"action": "export_rows", "index": "0", "_selected_action": ids}
        page = self.client.post("/admin/shop/order/", ticked).content.decode()
        columns = re.findall(r'name="columns" value="([^"]+)"', page)
        confirm = {"post": "yes", "format": "csv", "delivery": "immediate", "columns": columns}
        response = self.client.post("/admin/shop/order/", {**ticked, **confirm})
        self.assertEqual(response.status_code, 200)
        body = b"".join(response.streaming_content).decode()
        numbers = sorted(row["Number"] for row in csv.DictReader(io.StringIO(body)))
        self.assertEqual(numbers, ["B-0", "B-1", "B-2"])


class PageTests(StaffTestCase):
    def test_my_downloads_and_the_api_tokens_page(self):
        self.assertContains(self.client.get("/downloads/"), "My downloads")
        self.assertContains(self.client.get("/downloads/tokens/"), "API tokens")
"""


def readme_setup() -> dict[str, str]:
    """The README's "Add Exportdesk to your project" code blocks, by the file they name."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Add Exportdesk to your project", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# (settings\.py|urls\.py)\n(.*?)```", section, re.DOTALL)
    assert {name for name, _ in blocks} == {"settings.py", "urls.py"}, blocks
    return dict(blocks)


@pytest.fixture(scope="module")
def host_python(wheel, tmp_path_factory) -> Path:
    """One venv with the wheel (no extras) for every host of this module: the slow part, done
    once."""
    return fresh_venv(tmp_path_factory.mktemp("host-venv") / "venv", str(wheel))


def fresh_venv(venv: Path, requirement: str) -> Path:
    """A new venv with `requirement` installed; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # This interpreter's pip installs into the fresh venv (no pip bootstrap there); the
    # dependencies come from the package index, or pip's cache when it has them.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", requirement],
        check=True,
        capture_output=True,
    )
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what packaging reads, so nothing stale in build/ can leak in."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "exports", source / "exports", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = base.glob("exportdesk-*.whl")
    return built


def test_the_wheel_is_the_exports_app_with_its_templates_and_migrations(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"exports"}
    assert "exports/templates/exports/base.html" in names
    assert "exports/templates/exports/my_downloads.html" in names
    assert "exports/templates/admin/exports/export_options.html" in names
    assert "exports/templates/exports/widgets/ordered_checkboxes.html" in names
    # The translations, compiled: a host needs no gettext tools to show them.
    for language in ("de", "fr"):
        assert f"exports/locale/{language}/LC_MESSAGES/django.mo" in names
        assert f"exports/locale/{language}/LC_MESSAGES/django.po" in names
    # The admin pages' scripts and styles, found by the host's collectstatic.
    assert {"exports/static/exports/schedule.js", "exports/static/exports/columns.js"} <= set(names)
    assert "exports/static/exports/columns.css" in names
    assert "exports/migrations/0001_initial.py" in names
    assert not [n for n in names if n.startswith(("project/", "tests/", "docs/"))]
    # The load, chaos and benchmark tooling stays in the repository, with the demo.
    assert not [n for n in names if n.startswith(("exports/tools/", "exportdesk_tools/"))]
    commands = {n.rsplit("/", 1)[1] for n in names if "/management/commands/" in n}
    assert not commands & {"export_load.py", "export_bench.py"}, commands


def requirements(wheel: Path) -> dict[str, list[str]]:
    """The wheel's Requires-Dist, by extra ("" for what every install gets)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    found: dict[str, list[str]] = {}
    for line in re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE):
        requirement, _, marker = line.partition(";")
        extra = re.search(r"extra == \"([^\"]+)\"", marker)
        found.setdefault(extra.group(1) if extra else "", []).append(requirement.strip())
    return found


def test_optional_features_are_extras_and_psycopg_is_not_forced_binary(wheel):
    needs = requirements(wheel)
    everyone = " ".join(needs[""])
    assert "psycopg>=" in everyone and "binary" not in everyone, needs[""]
    assert not re.search(r"boto|storages|redis|openpyxl", everyone), needs[""]
    assert needs["s3"] == ["django-storages[s3]>=1.14"]
    assert needs["redis"] == ["redis>=5"]
    assert needs["binary"] == ["psycopg[binary]>=3.1"]


def distributions(python: Path) -> set[str]:
    """Every distribution installed in a venv, by normalised name (PEP 503)."""
    listing = "import importlib.metadata as m\nfor d in m.distributions(): print(d.name)"
    done = subprocess.run([str(python), "-c", listing], capture_output=True, text=True, check=True)
    return {re.sub(r"[-_.]+", "-", name).lower() for name in done.stdout.split()}


def test_the_wheel_alone_pulls_in_no_s3_client_redis_or_psycopg_binary(host_python):
    pulled = distributions(host_python)
    assert {"exportdesk", "django", "django-q2", "psycopg"} <= pulled, pulled
    extras = {"boto3", "botocore", "django-storages", "redis", "psycopg-binary", "openpyxl"}
    assert not pulled & extras, sorted(pulled)


def test_the_s3_extra_pulls_in_django_storages_and_boto3(wheel, tmp_path):
    python = fresh_venv(tmp_path / "venv", f"{wheel}[s3]")
    pulled = distributions(python)
    assert {"exportdesk", "django-storages", "boto3", "botocore"} <= pulled, sorted(pulled)
    assert not pulled & {"redis", "psycopg-binary"}, sorted(pulled)


class Browser:
    """urllib with a cookie jar: the admin's login and CSRF as a person's browser does them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def status(self, path: str) -> int:
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                return response.status
        except HTTPError as exc:
            return exc.code

    def get_bytes(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read()

    def post(self, path: str, page: str, data: dict) -> str:
        """A form post from `page`, with the CSRF token that page carried."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urlencode({"csrfmiddlewaretoken": token, **data}, doseq=True).encode()
        with self.opener.open(self.base + path, body, timeout=30) as response:
            return response.read().decode()

    def login(self) -> None:
        page = self.get("/admin/login/")
        after = self.post(
            "/admin/login/", page, {"username": EMAIL, "password": PASSWORD, "next": "/admin/"}
        )
        assert "Log out" in after, after[:500]

    def export_three(self, changelist: str) -> list[str]:
        """Tick 3 rows, Export…, CSV in the background, confirm; the ids ticked."""
        page = self.get(changelist)
        ids = re.findall(r'name="_selected_action" value="([^"]+)"', page)[:3]
        assert len(ids) == 3, page[:500]
        chosen = {"action": "export_rows", "index": "0", "_selected_action": ids}
        options = self.post(changelist, page, chosen)
        assert "Export 3 selected rows" in options, options[:500]
        columns = re.findall(r'name="columns" value="([^"]+)"', options)
        done = self.post(
            changelist,
            options,
            {
                **chosen,
                "post": "yes",
                "format": "csv",
                "delivery": "background",
                "columns": columns,
            },
        )
        assert "Export queued" in done, done[:500]
        return ids

    def download_new_file(self, seen: set[str]) -> list[list[str]]:
        def new_link() -> str | None:
            links = set(re.findall(r'href="(/downloads/[0-9a-f-]{36}/)"', self.get("/downloads/")))
            return next(iter(links - seen), None)

        link = wait_for(new_link, timeout=90, what="the file on My downloads")
        seen.add(link)
        return list(csv.reader(io.StringIO(self.get_bytes(link).decode())))


class HostProject:
    def __init__(self, root: Path, python: Path, data: Path) -> None:
        self.root, self.python, self.data = root, python, data
        # Nothing of this test run's own Django settings or database leaks in; the user's
        # data folder (where exported files go by default) is this test's own.
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(root)),
            "XDG_DATA_HOME": str(data),
            "LANG": "C.UTF-8",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        }

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def manage(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def start(self, log: Path, *args: str) -> subprocess.Popen:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [str(self.python), "manage.py", *args],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stored_files(self) -> list[Path]:
        return [p for p in self.data.rglob("*") if p.is_file()]


def make_project(
    base: Path,
    python: Path,
    settings_extra: str = "",
    urls_extra: str = "",
    files: dict[str, str] | None = None,
) -> HostProject:
    """A startproject with the shop app and the README's setup; then the host's own lines
    (after the README's) and files (by path under the project)."""
    root = base / "site"
    root.mkdir()
    subprocess.run(
        [str(python.parent / "django-admin"), "startproject", "hostsite", str(root)], check=True
    )
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "models.py").write_text(SHOP_MODELS)
    (root / "shop" / "admin.py").write_text(SHOP_ADMIN)
    (root / "shop" / "datasets.py").write_text(SHOP_DATASETS)
    setup = readme_setup()
    settings = root / "hostsite" / "settings.py"
    settings.write_text(
        settings.read_text()
        + '\nINSTALLED_APPS += ["shop"]\nAUTH_USER_MODEL = "shop.User"\n'
        + 'TIME_ZONE = "America/Sao_Paulo"\n'
        + setup["settings.py"]
        + settings_extra
    )
    urls = root / "hostsite" / "urls.py"
    urls.write_text(urls.read_text() + setup["urls.py"] + BACKOFFICE_URLS + urls_extra)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return HostProject(root, python, base / "data")


def with_orders(project: HostProject) -> None:
    """Migrated, a superuser, five orders."""
    project.manage("makemigrations", "shop")
    project.manage("migrate")
    project.manage("createsuperuser", "--noinput", "--email", EMAIL)
    project.manage(
        "shell",
        "-c",
        "from shop.models import Order\n"
        "for n in range(5): Order.objects.create(number=f'A-{n}', total=n * 10)",
    )


@contextmanager
def serving(project: HostProject, logs: Path, worker: bool = True) -> Iterator[Browser]:
    """runserver (and a qcluster), and a logged-in browser on it."""
    port = free_port()
    procs = [project.start(logs / "qcluster.log", "qcluster")] if worker else []
    procs.append(project.start(logs / "web.log", "runserver", f"127.0.0.1:{port}", "--noreload"))
    try:
        wait_for(lambda: can_connect(port), timeout=60, what="runserver")
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.login()
        yield browser
    finally:
        for proc in reversed(procs):
            stop(proc)
    if worker:
        logs_text = (logs / "qcluster.log").read_text()
        assert "Traceback" not in logs_text, logs_text


def test_a_new_project_exports_from_its_admin_and_a_second_site(host_python, tmp_path):
    began = time.monotonic()
    project = make_project(tmp_path, host_python)
    with_orders(project)
    assert "System check identified no issues" in project.manage("check")
    # A dataset from the host's datasets.py, by name, on the command line.
    assert project.manage("export", "orders", "-f", "csv", "-o", "-").count("A-") == 5

    with serving(project, tmp_path) as browser:
        # The owner search follows USERNAME_FIELD (this user model has no username).
        assert "0 download files" in browser.get("/admin/exports/downloadfile/?q=owner@")
        seen: set[str] = set()
        numbers = order_numbers(browser)
        for changelist in ("/admin/shop/order/", "/backoffice/shop/order/"):
            ids = browser.export_three(changelist)
            rows = browser.download_new_file(seen)
            assert len(rows) == 4, rows  # the heading and the 3 ticked rows
            assert sorted(r[rows[0].index("Number")] for r in rows[1:]) == sorted(
                numbers[pk] for pk in ids
            )
    # The files are in the user's data folder, none in the project's checkout.
    stored = project.stored_files()
    assert [p.suffix for p in stored] == [".csv", ".csv"], stored
    assert all(p.is_relative_to(project.data / "exportdesk") for p in stored), stored
    assert not [p for p in project.root.rglob("*.csv")], "nothing exported inside the checkout"
    print(f"host: {time.monotonic() - began:.1f} s")


def test_a_host_on_naive_local_time_exports_end_to_end(host_python, tmp_path):
    project = make_project(tmp_path, host_python, 'USE_TZ = False\nTIME_ZONE = "Asia/Kolkata"\n')
    with_orders(project)
    assert "System check identified no issues" in project.manage("check")
    with serving(project, tmp_path) as browser:
        numbers = order_numbers(browser)
        ids = browser.export_three("/admin/shop/order/")
        rows = browser.download_new_file(set())
        assert sorted(r[rows[0].index("Number")] for r in rows[1:]) == sorted(
            numbers[pk] for pk in ids
        )
        assert browser.status("/admin/exports/exportaudit/") == 200


def test_the_apps_pages_render_where_the_hosts_base_template_cannot(host_python, tmp_path):
    project = make_project(
        tmp_path,
        host_python,
        settings_extra='TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]\n',
        urls_extra=HOST_HOME_URLS,
        files={
            "templates/base.html": HOST_BASE_HTML,
            "shop/templates/shop/home.html": HOST_HOME_HTML,
        },
    )
    with_orders(project)
    with serving(project, tmp_path, worker=False) as browser:
        assert browser.status("/home/") == 500, "the host's base.html fails where it is extended"
        assert "My downloads" in browser.get("/downloads/")
        assert "API tokens" in browser.get("/downloads/tokens/")


def test_the_hosts_own_test_suite_passes_with_no_line_for_exportdesk(host_python, tmp_path):
    project = make_project(tmp_path, host_python, files={"shop/tests.py": HOST_TESTS})
    project.manage("makemigrations", "shop")
    done = project.run("test", "shop")
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "Ran 4 tests" in report and "\nOK" in report, report


# A host that keeps its files in S3 and queues on Redis, with neither extra installed.
S3_AND_REDIS_SETTINGS = """
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "x"}},
}
Q_CLUSTER = {"name": "hostsite", "redis": "redis://127.0.0.1:1/0", "timeout": 60, "retry": 90}
"""


def test_check_names_the_extra_a_setting_needs(host_python, tmp_path):
    project = make_project(tmp_path, host_python, S3_AND_REDIS_SETTINGS)
    done = project.run("check")
    report = done.stdout + done.stderr
    assert done.returncode != 0, report
    assert "Traceback" not in report, report
    assert "exports.E017" in report and 'pip install "exportdesk[s3]"' in report, report
    assert "exports.E018" in report and 'pip install "exportdesk[redis]"' in report, report
    assert "not in STORAGES" not in report, "the alias is there: only its package is missing"


QUEUE_FROM_ENV = "\nimport os\nEXPORTS_QUEUE = os.environ.get('QUEUE', 'django_q')\n"


def test_check_names_the_extra_the_chosen_queue_needs(host_python, tmp_path):
    """The wheel alone has neither Celery nor the django-tasks backport (Django 5.2 here)."""
    project = make_project(tmp_path, host_python, QUEUE_FROM_ENV)
    project.manage("check")  # django-q2, the README's set-up
    for queue, error, extra in (("celery", "E031", "celery"), ("tasks", "E032", "tasks")):
        project.env["QUEUE"] = queue
        done = project.run("check")
        report = done.stdout + done.stderr
        assert done.returncode != 0 and "Traceback" not in report, report
        assert f"exports.{error}" in report, report
        assert f'pip install "exportdesk[{extra}]"' in report, report


def can_connect(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def order_numbers(browser: Browser) -> dict[str, str]:
    """Order id -> number, from the changelist's own rows."""
    page = browser.get("/admin/shop/order/")
    rows = re.findall(
        r'name="_selected_action" value="([^"]+)".*?<a href="[^"]+">([^<]+)</a>', page, re.DOTALL
    )
    assert len(rows) == 5, page[:500]
    return dict(rows)
