"""Exportdesk in a brand-new project, the way a team adds it: build the wheel, install it in a
fresh venv, `django-admin startproject` with a custom user model (e-mail login, UUID pk) and
a model with a UUID pk, apply the README's setup word for word, then drive the real thing
over HTTP: a runserver and a qcluster, login, Export… of 3 ticked rows, the CSV from
My downloads; and the same on a second AdminSite that gets Export… from enable_export().
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
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

import pytest

from exports.tools.processes import stop
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


def readme_setup() -> dict[str, str]:
    """The README's "Add Exportdesk to your project" code blocks, by the file they name."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Add Exportdesk to your project", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# (settings\.py|urls\.py)\n(.*?)```", section, re.DOTALL)
    assert {name for name, _ in blocks} == {"settings.py", "urls.py"}, blocks
    return dict(blocks)


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
    assert "exports/migrations/0001_initial.py" in names
    assert not [n for n in names if n.startswith(("project/", "tests/", "docs/"))]


class Browser:
    """urllib with a cookie jar: the admin's login and CSRF as a person's browser does them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

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
    def __init__(self, root: Path, python: Path) -> None:
        self.root, self.python = root, python
        # Nothing of this test run's own Django settings or database leaks in.
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(root)),
            "LANG": "C.UTF-8",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        }

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
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


def make_project(base: Path, wheel: Path) -> HostProject:
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # This interpreter's pip installs into the fresh venv (no pip bootstrap there); the
    # dependencies come from the package index, or pip's cache when it has them.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    root = base / "site"
    root.mkdir()
    subprocess.run(
        [str(venv / "bin" / "django-admin"), "startproject", "hostsite", str(root)], check=True
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
    )
    urls = root / "hostsite" / "urls.py"
    urls.write_text(urls.read_text() + setup["urls.py"] + BACKOFFICE_URLS)
    return HostProject(root, python)


def test_a_new_project_exports_from_its_admin_and_a_second_site(wheel, tmp_path):
    began = time.monotonic()
    project = make_project(tmp_path, wheel)
    installed = time.monotonic()
    project.manage("makemigrations", "shop")
    project.manage("migrate")
    assert "System check identified no issues" in project.manage("check")
    project.manage("createsuperuser", "--noinput", "--email", EMAIL)
    project.manage(
        "shell",
        "-c",
        "from shop.models import Order\n"
        "for n in range(5): Order.objects.create(number=f'A-{n}', total=n * 10)",
    )
    # A dataset from the host's datasets.py, by name, on the command line.
    assert project.manage("export", "orders", "-f", "csv", "-o", "-").count("A-") == 5

    port = free_port()
    worker = project.start(tmp_path / "qcluster.log", "qcluster")
    web = project.start(tmp_path / "web.log", "runserver", f"127.0.0.1:{port}", "--noreload")
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_for(lambda: can_connect(port), timeout=60, what="runserver")
        browser.login()
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
    finally:
        stop(web)
        stop(worker)
    logs = (tmp_path / "qcluster.log").read_text()
    assert "Traceback" not in logs, logs
    print(f"wheel + venv install {installed - began:.1f} s, total {time.monotonic() - began:.1f} s")


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
