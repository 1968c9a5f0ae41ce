"""Settings come from the environment, with safe defaults that `check --deploy` questions."""

import subprocess
import sys
from pathlib import Path

import django
from django.conf import Settings

from project.env import SMTP_BACKEND, database_from_url

ROOT = Path(__file__).resolve().parent.parent


def test_no_database_url_means_the_embedded_sqlite_file(tmp_path):
    db = database_from_url("", tmp_path / "x.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "x.sqlite3")


def test_a_postgres_url_is_split_into_its_parts(tmp_path):
    db = database_from_url("postgres://u:p%40ss@db.example:6543/exp?sslmode=require", tmp_path)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "u",
        "p@ss",
        "db.example",
        "6543",
        "exp",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_check_deploy_flags_the_development_secret_key(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "EXPORTDESK_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "security.W009" in result.stderr + result.stdout


def test_retry_outlasts_the_timeout(settings):
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
    assert settings.Q_CLUSTER["orm"] == "default"


def test_mail_is_configured_the_way_this_django_wants():
    """Django 6.1 deprecates EMAIL_* for MAILERS and refuses both at once; 5.2 has only
    EMAIL_*. Reading the settings warns about a deprecated one: an error in the 6.1 lane."""
    fresh = Settings("project.settings")
    if django.VERSION >= (6, 1):
        assert fresh.MAILERS["default"]["BACKEND"] == SMTP_BACKEND
        assert {"host", "port", "username", "password", "use_tls"} <= set(
            fresh.MAILERS["default"]["OPTIONS"]
        )
        assert not [name for name in ("EMAIL_BACKEND", "EMAIL_HOST") if fresh.is_overridden(name)]
    else:
        assert not hasattr(fresh, "MAILERS")
        assert fresh.EMAIL_BACKEND == SMTP_BACKEND and fresh.is_overridden("EMAIL_HOST")
