"""Exportdesk settings: every value comes from an environment variable (see README)."""

from datetime import timedelta
from pathlib import Path

import django
from django.core.exceptions import ImproperlyConfigured

from project.env import (
    SMTP_BACKEND,
    database_from_url,
    env,
    envbool,
    envint,
    envlist,
    mail_settings,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("EXPORTDESK_VAR_DIR", str(BASE_DIR / "var")))

# The default is deliberately insecure so that `check --deploy` flags it.
SECRET_KEY = env("SECRET_KEY", "django-insecure-exportdesk-dev-only-change-me")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "exports",
    "project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # Accept-Language picks one of LANGUAGES
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env("DATABASE_URL"), VAR_DIR / "exportdesk.sqlite3")}
if not env("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded demo database lives here
# Exportdesk adds DATABASES["progress"] (a second connection to the default database) itself.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "exports:my-downloads"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
# The languages Exportdesk ships translations for; LANGUAGE_CODE when the browser asks for none.
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch"), ("fr", "Français")]
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Exported files are private: owner-only on disk too.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Without an "exports" alias in STORAGES, exported files go to this private folder.
EXPORTS_ROOT = Path(env("EXPORTS_ROOT", str(VAR_DIR / "exports")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EXPORTS_STORAGE = env("EXPORTS_STORAGE", "exports")
EXPORTS_FILE_LIFETIME = timedelta(seconds=envint("EXPORTS_FILE_LIFETIME", 24 * 3600))
EXPORTS_TMP_DIR = env("EXPORTS_TMP_DIR", "") or None
EXPORTS_PURGE_MINUTES = envint("EXPORTS_PURGE_MINUTES", 15)
EXPORTS_MAX_ROWS_IMMEDIATE = envint("EXPORTS_MAX_ROWS_IMMEDIATE", 100_000)
EXPORTS_MAX_ROWS_BACKGROUND = envint("EXPORTS_MAX_ROWS_BACKGROUND", 5_000_000)
EXPORTS_MAX_PENDING_PER_USER = envint("EXPORTS_MAX_PENDING_PER_USER", 3)
EXPORTS_SITE_URL = env("EXPORTS_SITE_URL", "")  # empty: the host of the requesting page
EXPORTS_EMAIL_ATTACH_MAX_BYTES = envint("EXPORTS_EMAIL_ATTACH_MAX_BYTES", 0)
# Scheduled exports: the longest file lifetime anyone may ask for, failures in a row before a
# schedule pauses itself, and the only domains outside addresses may be in (comma-separated).
EXPORTS_MAX_FILE_LIFETIME = timedelta(seconds=envint("EXPORTS_MAX_FILE_LIFETIME", 7 * 24 * 3600))
EXPORTS_SCHEDULE_MAX_FAILURES = envint("EXPORTS_SCHEDULE_MAX_FAILURES", 3)
EXPORTS_ALLOWED_EMAIL_DOMAINS = envlist("EXPORTS_ALLOWED_EMAIL_DOMAINS", "")

# Django 6.1: MAILERS = {"default": {...}}; Django 5.2: EMAIL_BACKEND, EMAIL_HOST, ...
globals().update(
    mail_settings(
        env("EMAIL_BACKEND", SMTP_BACKEND),
        host=env("EMAIL_HOST", "localhost"),
        port=envint("EMAIL_PORT", 25),
        username=env("EMAIL_HOST_USER"),
        password=env("EMAIL_HOST_PASSWORD"),
        use_tls=envbool("EMAIL_USE_TLS", False),
    )
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "exportdesk@localhost")

Q_TIMEOUT = envint("Q_TIMEOUT", 3600)
Q_CLUSTER = {
    "name": "exportdesk",
    "workers": envint("Q_WORKERS", 2),
    "timeout": Q_TIMEOUT,
    # Must exceed timeout, or the ORM broker hands a running export to a second worker.
    "retry": envint("Q_RETRY", Q_TIMEOUT + 300),
    "max_attempts": 1,
    "ack_failures": True,
    "orm": "default",
    "poll": 0.5,
    "catch_up": False,
    "save_limit": 1000,
    "sync": envbool("Q_SYNC", False),
}

# ---------------------------------------------------------------------------------------------
# Reliability and quotas: heartbeats, the sweeper, retries, storage quota, download rate limit.
# ---------------------------------------------------------------------------------------------
# A running export's worker beats this often; the sweeper calls it dead after STALE seconds.
EXPORTS_HEARTBEAT_SECONDS = envint("EXPORTS_HEARTBEAT_SECONDS", 10)
EXPORTS_STALE_SECONDS = envint("EXPORTS_STALE_SECONDS", 120)
# An immediate download is beaten only by its progress; it is failed (never resent) after this.
EXPORTS_IMMEDIATE_STALE_SECONDS = envint("EXPORTS_IMMEDIATE_STALE_SECONDS", 3600)
# Attempts per export (our own count, whatever the broker records) before it is failed.
EXPORTS_MAX_ATTEMPTS = envint("EXPORTS_MAX_ATTEMPTS", 2)
# A queued export whose job is not in the broker after this long is sent again.
EXPORTS_REQUEUE_AFTER_SECONDS = envint("EXPORTS_REQUEUE_AFTER_SECONDS", 600)
EXPORTS_SWEEP_MINUTES = envint("EXPORTS_SWEEP_MINUTES", 1)
# The orphan scan leaves stored objects younger than this alone (an export in the middle of
# saving its file has no row yet).
EXPORTS_ORPHAN_GRACE_SECONDS = envint("EXPORTS_ORPHAN_GRACE_SECONDS", 3600)
# A worker waits this long for an unreachable database, object store or mail server.
EXPORTS_OUTAGE_SECONDS = envint("EXPORTS_OUTAGE_SECONDS", 60)
# Per-user storage (files + running exports' reservations), in MiB; 0 = no quota.
EXPORTS_USER_QUOTA_MB = float(env("EXPORTS_USER_QUOTA_MB", "1024"))
EXPORTS_QUOTA_STEP_MB = float(env("EXPORTS_QUOTA_STEP_MB", "8"))
# Downloads per user per minute, counted in the database (every web process shares it); 0 = none.
EXPORTS_DOWNLOADS_PER_MINUTE = envint("EXPORTS_DOWNLOADS_PER_MINUTE", 30)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"exports": {"handlers": ["console"], "level": env("EXPORTS_LOG_LEVEL", "INFO")}},
}

# ---------------------------------------------------------------------------------------------
# Scale-out (docs/scaleout.md): several machines share PostgreSQL, a Redis broker for django-q2
# and an S3-compatible store for exported files. Every value below is off by default.
# ---------------------------------------------------------------------------------------------
# django-q2 broker: "orm" (default, the job row commits with the audit row) or "redis" (any
# number of qcluster processes on any machines; exports.jobs.accept.enqueue then sends on commit).
Q_BROKER = env("Q_BROKER", "orm").strip().lower()
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
if Q_BROKER == "redis":
    # django-q2 picks the ORM broker whenever "orm" is present, so it must go; a string for
    # "redis" is passed to redis.from_url (redis://, rediss://, unix://, with a password).
    Q_CLUSTER = {key: value for key, value in Q_CLUSTER.items() if key != "orm"}
    Q_CLUSTER["redis"] = REDIS_URL
elif Q_BROKER != "orm":
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', not {Q_BROKER!r}")

# The queue that carries the background work (README "Queues"): django-q2 (default, `make run`),
# Celery on Redis (`celery -A project worker` and `celery -A project beat`; project/celery.py),
# or Django's Tasks framework on django-tasks-db (`manage.py db_worker` and
# `manage.py exports_clock`). No qcluster runs for the other two.
EXPORTS_QUEUE = env("EXPORTS_QUEUE", "django_q").strip().lower()
if EXPORTS_QUEUE == "celery":
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
    CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKERS", 2)
    # One job at a time per worker process: a long export does not hold a second one back.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
elif EXPORTS_QUEUE == "tasks":
    if django.VERSION < (6, 0):
        INSTALLED_APPS.append("django_tasks")  # the backport (exportdesk[tasks])
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Exported files in an S3-compatible bucket (AWS S3, MinIO, SeaweedFS) through django-storages.
# Downloads are 302 redirects to presigned URLs that live at most EXPORTS_PRESIGNED_SECONDS.
EXPORTS_PRESIGNED_SECONDS = envint("EXPORTS_PRESIGNED_SECONDS", 300)
s3_bucket = env("EXPORTS_S3_BUCKET")  # lower case: an environment variable, not a setting
if s3_bucket:
    STORAGES["exports"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": s3_bucket,
            # Empty means AWS itself / boto3's own credential chain (instance role, env, files).
            "endpoint_url": env("EXPORTS_S3_ENDPOINT_URL") or None,
            "access_key": env("EXPORTS_S3_ACCESS_KEY") or None,
            "secret_key": env("EXPORTS_S3_SECRET_KEY") or None,
            "region_name": env("EXPORTS_S3_REGION", "us-east-1"),
            "addressing_style": env("EXPORTS_S3_ADDRESSING_STYLE", "path"),
            "signature_version": "s3v4",
            # Every URL is signed and expires; a custom domain would give unsigned URLs.
            "querystring_auth": True,
            "querystring_expire": EXPORTS_PRESIGNED_SECONDS,
            "custom_domain": None,
            # The default (True) silently replaces an object saved under the same name.
            "file_overwrite": False,
            "default_acl": None,  # the bucket's own (private) policy; never public-read
            "object_parameters": {"CacheControl": "private, no-store"},
        },
    }

# Filesystem storage behind nginx: the view checks owner and expiry, then nginx sends the bytes
# from an `internal` location under this prefix (e.g. "/protected-exports/"). Empty = off.
EXPORTS_X_ACCEL_REDIRECT = env("EXPORTS_X_ACCEL_REDIRECT", "")
