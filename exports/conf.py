"""Exportdesk's settings, read in one place with documented defaults (see the README).

A host project sets only what it wants to change, as `EXPORTS_<NAME>` in its settings;
`app_settings.<NAME>` reads the current value on every access, so `override_settings` works.
An `EXPORTS_*` setting this module does not know is reported by check exports.W001.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Storage alias (in STORAGES) that holds exported files. When STORAGES has no such alias,
    # a private FileSystemStorage in ROOT (never served by URL) is used.
    "STORAGE": "exports",
    # Folder of that fallback storage; None: outside the source tree, in
    # $XDG_DATA_HOME (else ~/.local/share) / "exportdesk" / "<project>-<hash>".
    "ROOT": None,
    # How long a finished file stays downloadable: seconds (or a timedelta).
    "FILE_LIFETIME": 24 * 3600,
    # Where exports write while they run (None: the system's temp dir).
    "TMP_DIR": None,
    "PURGE_MINUTES": 15,
    # The queue that carries every background job (exports.queues): "django_q" (django-q2),
    # "celery", or "tasks" (Django's Tasks framework: django.tasks, or the django-tasks
    # backport on 5.2), on whatever backend the project configured for it.
    "QUEUE": "django_q",
    "MAX_ROWS_IMMEDIATE": 100_000,
    "MAX_ROWS_BACKGROUND": 5_000_000,
    "MAX_PENDING_PER_USER": 3,
    # CSV tables that PostgreSQL's planner expects to hold at least this many rows are read
    # as two halves at once, on two more connections (engine.halves); 0: never.
    "SPLIT_COPY_ROWS": 100_000,
    # Processes that read and render a changelist exported "as shown in the admin" when it
    # holds at least SPLIT_COPY_ROWS rows (engine.parallel); None: the machine's cores, up
    # to 8; 1: the export's own process only.
    "DISPLAY_PROCESSES": None,
    # Scheme and host of links in e-mails, e.g. "https://exports.example.com". Empty: those of
    # the request that asked for the export (exports.delivery.links).
    "SITE_URL": "",
    # Attach files up to this size to the ready e-mail (0: never, only a link).
    "EMAIL_ATTACH_MAX_BYTES": 0,
    "HEARTBEAT_SECONDS": 10,
    "STALE_SECONDS": 120,
    "IMMEDIATE_STALE_SECONDS": 3600,
    "MAX_ATTEMPTS": 2,
    "REQUEUE_AFTER_SECONDS": 600,
    "SWEEP_MINUTES": 1,
    "ORPHAN_GRACE_SECONDS": 3600,
    # How long a worker waits out an unreachable database, object store or mail server (a
    # restart, a network blip) before it gives up on the step at hand.
    "OUTAGE_SECONDS": 60,
    # Per-user storage (files + running exports' reservations) in MiB; 0: no quota.
    "USER_QUOTA_MB": 1024.0,
    "QUOTA_STEP_MB": 8.0,
    # Downloads per user per minute, from the web and the API alike, counted in the database
    # (DownloadCounter); 0: no limit.
    "DOWNLOADS_PER_MINUTE": 30,
    "PRESIGNED_SECONDS": 300,
    # nginx `internal` location prefix for X-Accel-Redirect downloads; empty: off.
    "X_ACCEL_REDIRECT": "",
    # Field names the secret-field deny-list (exports.datasets.sensitive) matches but that hold
    # no secret: ordinary in every export. Compared word for word with a whole name, so
    # `tokenCount` is `token_count`. A host extends the list with
    # `(*exports.conf.DEFAULTS["NOT_SECRET_NAMES"], "token_type")`, or replaces it.
    "NOT_SECRET_NAMES": (
        "token_count",
        "tokens_count",
        "num_tokens",
        "max_tokens",
        "input_tokens",
        "output_tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    ),
    # HTTP API (exports.api): requests per minute (0: no limit) per token, and per user for
    # calls made with a browser session; the largest request body it reads; the most history
    # rows one page may hold.
    "API_REQUESTS_PER_MINUTE": 120,
    "API_MAX_BODY_BYTES": 64 * 1024,
    "API_HISTORY_MAX_LIMIT": 200,
    # Usable (neither revoked nor expired) API tokens one user may hold; the tokens page and
    # create_export_token refuse another. 0: no cap.
    "MAX_TOKENS_PER_USER": 10,
    # Request attributes set by middleware (a `site`, a `tenant`) that a ModelAdmin's
    # get_queryset() may read: kept (model instances by label and pk, plain values as they
    # are) and set again on the request a changelist export is replayed with.
    "REQUEST_ATTRIBUTES": ("site", "tenant"),
    # Where no click exists (a schedule, Run again, a saved export, the API on a changelist),
    # the changelist is replayed on a request built for the runner; this dotted path names a
    # function(request) that prepares it as the host's middleware would (attributes on
    # request.user, session values). None: nothing more.
    "PREPARE_REQUEST": None,
    # Who may export at all: dotted path of a function(user) -> bool. None: the admin's rule,
    # an active staff user with exports.export_data (exports.datasets.access). Datasets and
    # ModelAdmins add their own permissions on top, whatever the rule.
    "MAY_EXPORT": None,
    # The longest lifetime an export or a schedule may ask for, and "keep 24 h longer" may
    # reach: seconds (or a timedelta).
    "MAX_FILE_LIFETIME": 7 * 24 * 3600,
    # Runs of a schedule that may fail in a row before it pauses itself and tells its owner.
    "SCHEDULE_MAX_FAILURES": 3,
    # The shortest time between two runs of one schedule, in minutes: the schedule form
    # refuses a timing that runs more often, and the scheduler never starts one sooner.
    "SCHEDULE_MIN_INTERVAL_MINUTES": 60,
    # The most people and addresses one schedule delivers to besides its owner, counted after
    # groups expand: the form refuses more; at run time the rest are skipped.
    "SCHEDULE_MAX_RECIPIENTS": 50,
    # Domains (e.g. ["example.org"]) whose addresses a schedule may send files to as
    # attachments; empty: schedules deliver to users and groups only.
    "ALLOWED_EMAIL_DOMAINS": [],
}

PREFIX = "EXPORTS_"
DURATIONS = {"FILE_LIFETIME", "MAX_FILE_LIFETIME"}


class AppSettings:
    """`app_settings.FILE_LIFETIME` reads settings.EXPORTS_FILE_LIFETIME, else its default."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Exportdesk has no setting {PREFIX}{name}")
        value = getattr(settings, PREFIX + name, DEFAULTS[name])
        if name in DURATIONS and not isinstance(value, timedelta):
            value = timedelta(seconds=float(value))
        return value


app_settings = AppSettings()


def unknown_settings() -> list[str]:
    """EXPORTS_* names in the host's settings that Exportdesk would silently ignore."""
    return sorted(
        name
        for name in dir(settings)
        if name.startswith(PREFIX) and name.removeprefix(PREFIX) not in DEFAULTS
    )
