"""System checks (`manage.py check`, and every qcluster start): settings that would run an
export twice or declare a live one dead (E001-E003), export a secret (E004), purge somebody
else's files (E005), and anything a host project is missing or has inconsistent, each with
the line to add (E010-E016, W001-W005), or the package extra to install (E017-E018)."""

import os
from importlib.util import find_spec
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.admin.sites import all_sites
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, InvalidStorageError, Storage, storages
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from exports.apps import PROGRESS_ALIAS
from exports.conf import DEFAULTS, app_settings, unknown_settings
from exports.datasets.changelist import configured_dataset
from exports.datasets.registry import UnknownDataset, registry
from exports.db import needs_write_lock
from exports.delivery.storage import exports_root, uses_fallback
from exports.models import ExportAudit


def on_django_q() -> bool:
    """Q_CLUSTER matters only when django-q2 carries the work (exports.queues)."""
    return app_settings.QUEUE == "django_q"


@register()
def check_queue_timing(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    cluster = (getattr(settings, "Q_CLUSTER", {}) or {}) if on_django_q() else {}
    timeout, retry = cluster.get("timeout"), cluster.get("retry", 60)
    if not cluster:
        pass  # exports.E011 says what to add
    elif timeout is None:
        errors.append(
            Error(
                _(
                    "Q_CLUSTER has no timeout: a long export outlives `retry` and is delivered "
                    "again."
                ),
                hint=_("Set Q_CLUSTER['timeout'] (Q_TIMEOUT) below Q_CLUSTER['retry'] (Q_RETRY)."),
                id="exports.E001",
            )
        )
    elif retry <= timeout:
        errors.append(
            Error(
                _(
                    "Q_CLUSTER retry (%(retry)ss) must exceed timeout (%(timeout)ss): otherwise "
                    "the broker hands a still-running export to a second worker."
                )
                % {"retry": retry, "timeout": timeout},
                hint=_("Raise Q_RETRY above Q_TIMEOUT plus a margin (e.g. timeout + 300)."),
                id="exports.E001",
            )
        )
    beat = app_settings.HEARTBEAT_SECONDS
    stale = app_settings.STALE_SECONDS
    if stale <= 2 * beat:
        errors.append(
            Error(
                _(
                    "EXPORTS_STALE_SECONDS (%(stale)s) must exceed twice "
                    "EXPORTS_HEARTBEAT_SECONDS (%(beat)s): the sweeper would take live exports "
                    "from their workers."
                )
                % {"stale": stale, "beat": beat},
                id="exports.E002",
            )
        )
    if app_settings.MAX_ATTEMPTS < 1:
        errors.append(Error(_("EXPORTS_MAX_ATTEMPTS must be at least 1."), id="exports.E003"))
    return errors


@register()
def check_export_columns(app_configs=None, **kwargs) -> list[Error]:
    """A column that reaches a secret (or no field at all) is left out of every export; say
    so at start-up rather than let someone find the column missing."""
    errors: list[Error] = []
    hint = _(
        "Secret fields (password, token, api_key, *_hash...: see the README) are never "
        "exported; remove the column, or fix its path."
    )
    for dataset in registry.all():
        for path, why in dataset.omitted:
            errors.append(
                Error(
                    _("Dataset %(dataset)s: %(path)s is left out of every export: %(why)s.")
                    % {"dataset": repr(dataset.name), "path": repr(path), "why": why},
                    hint=hint,
                    id="exports.E004",
                )
            )
    for model_admin in (ma for site in all_sites for ma in site._registry.values()):
        if not hasattr(model_admin, "has_export_permission"):
            continue
        where = f"{type(model_admin).__name__} ({model_admin.model._meta.label})"
        try:
            omitted = configured_dataset(model_admin).omitted
        except UnknownDataset as exc:
            errors.append(Error(f"{where}: export_dataset: {exc}", id="exports.E004"))
            continue
        for path, why in omitted:
            errors.append(
                Error(
                    _("%(admin)s: export column %(path)s is left out of every export: %(why)s.")
                    % {"admin": where, "path": repr(path), "why": why},
                    hint=hint,
                    obj=model_admin,
                    id="exports.E004",
                )
            )
    return errors


def storage_root(storage: Storage) -> tuple | None:
    """Where a storage keeps its files: a real folder, or a bucket and prefix (S3 and the
    like); None for a backend we cannot tell about."""
    if isinstance(storage, FileSystemStorage):
        return ("folder", os.path.realpath(storage.location))
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        endpoint = getattr(storage, "endpoint_url", None)
        return ("bucket", endpoint, bucket, (getattr(storage, "location", "") or "").strip("/"))
    return None


def root_of_alias(alias: str) -> tuple | None:
    try:
        return storage_root(storages[alias])
    except Exception:  # noqa: BLE001 - a storage that cannot even be built holds no files
        return None


def other_roots(alias: str) -> dict[str, tuple | None]:
    """Every other place files live: the other STORAGES aliases, MEDIA_ROOT, STATIC_ROOT."""
    roots: dict[str, tuple | None] = {}
    for other in settings.STORAGES:
        if other != alias:
            roots[f"STORAGES[{other!r}]"] = root_of_alias(other)
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        if getattr(settings, name, None):
            roots[name] = ("folder", os.path.realpath(getattr(settings, name)))
    return roots


@register()
def check_exports_storage(app_configs=None, **kwargs) -> list[Error]:
    """The orphan scan deletes files of its own shape that no row names: the storage must be
    Exportdesk's alone, never the root of another app's files."""
    alias = app_settings.STORAGE
    if uses_fallback():
        return []  # Exportdesk's own private folder; check_storage() looks at it
    hint = _(
        "Add a STORAGES alias of its own for exported files (a folder, or a bucket prefix "
        "through the backend's `location`, that nothing else writes to) and name it in "
        "EXPORTS_STORAGE."
    )
    if alias in ("default", "staticfiles"):
        message = _("EXPORTS_STORAGE is %(alias)s: exported files must not share a storage.") % {
            "alias": repr(alias)
        }
        return [Error(message, hint=hint, id="exports.E005")]
    if s3_packages_missing(alias):
        return []  # the storage cannot be built; exports.E017 names the extra to install
    try:
        root = storage_root(storages[alias])
    except InvalidStorageError:
        message = _("EXPORTS_STORAGE names %(alias)s, which is not in STORAGES.") % {
            "alias": repr(alias)
        }
        return [Error(message, hint=hint, id="exports.E005")]
    shared = [name for name, other in other_roots(alias).items() if root and other == root]
    if not shared:
        return []
    message = _(
        "EXPORTS_STORAGE %(alias)s keeps its files where %(others)s does: the orphan scan "
        "could delete files that are not exports."
    ) % {"alias": repr(alias), "others": ", ".join(shared)}
    return [Error(message, hint=hint, id="exports.E005")]


# ---------------------------------------------------------------------------------------------
# Optional features are package extras (pyproject.toml): a setting that needs one the
# environment lacks is an error that names it (E017-E018), before a worker meets the ImportError.
# ---------------------------------------------------------------------------------------------
S3_BACKENDS = "storages.backends.s3"  # S3Storage, and the older s3boto3.S3Boto3Storage
# Q_CLUSTER keys that choose a broker other than Redis (django_q.brokers.get_broker's order).
NOT_REDIS_BROKERS = ("broker_class", "iron_mq", "sqs", "orm", "mongo")


def installed(*modules: str) -> bool:
    return all(find_spec(module) is not None for module in modules)


def s3_packages_missing(alias: str) -> bool:
    backend = str(settings.STORAGES.get(alias, {}).get("BACKEND", ""))
    return backend.startswith(S3_BACKENDS) and not installed("storages", "boto3")


def queues_on_redis(cluster: dict) -> bool:
    """django-q2 queues on Redis when Q_CLUSTER names no other broker, "redis" key or not."""
    return not any(cluster.get(key) for key in NOT_REDIS_BROKERS)


@register()
def check_extras(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    alias = app_settings.STORAGE
    if s3_packages_missing(alias):
        errors.append(
            Error(
                _(
                    "STORAGES[%(alias)s] keeps exported files in S3, but django-storages' S3 "
                    "backend (django-storages and boto3) is not installed."
                )
                % {"alias": repr(alias)},
                hint='pip install "exportdesk[s3]"',
                id="exports.E017",
            )
        )
    cluster = (getattr(settings, "Q_CLUSTER", None) or {}) if on_django_q() else {}
    if cluster and queues_on_redis(cluster) and not installed("redis"):
        errors.append(
            Error(
                _(
                    "Q_CLUSTER queues Exportdesk's jobs on Redis (it names no other broker), "
                    "but the redis package is not installed."
                ),
                hint=_(
                    'pip install "exportdesk[redis]", or queue in the database: '
                    'Q_CLUSTER["orm"] = "default".'
                ),
                id="exports.E018",
            )
        )
    return errors


# ---------------------------------------------------------------------------------------------
# Installation: what a host project must have, each message saying what to add (E010-E016,
# W001-W003).
# ---------------------------------------------------------------------------------------------
Q_CLUSTER_EXAMPLE = (
    'Q_CLUSTER = {"name": "myproject", "orm": "default", "timeout": 3600, "retry": 3900}'
)


@register()
def check_installation(app_configs=None, **kwargs) -> list[CheckMessage]:
    messages = django_q_installation() if on_django_q() else []
    messages += check_progress_database()
    messages += check_storage()
    unknown = unknown_settings()
    if unknown:
        messages.append(
            Warning(
                _("Exportdesk does not know these settings and ignores them: %(names)s.")
                % {"names": ", ".join(unknown)},
                hint=_("Check the spelling against the README's settings table."),
                id="exports.W001",
            )
        )
    return messages


def django_q_installation() -> list[CheckMessage]:
    """What django-q2 needs when it carries the work (EXPORTS_QUEUE = "django_q")."""
    messages: list[CheckMessage] = []
    if not apps.is_installed("django_q"):
        messages.append(
            Error(
                _("Exportdesk runs exports on django-q2, which is not installed as an app."),
                hint=_('Add "django_q" to INSTALLED_APPS, then run migrate.'),
                id="exports.E010",
            )
        )
    cluster = getattr(settings, "Q_CLUSTER", None)
    if not cluster:
        messages.append(
            Error(
                _("Q_CLUSTER is not set: django-q2 has no broker for Exportdesk's jobs."),
                hint=_("Add to your settings: %(example)s") % {"example": Q_CLUSTER_EXAMPLE},
                id="exports.E011",
            )
        )
    elif cluster.get("orm") and cluster["orm"] not in settings.DATABASES:
        messages.append(
            Error(
                _("Q_CLUSTER['orm'] names the database %(alias)s, which is not in DATABASES.")
                % {"alias": repr(cluster["orm"])},
                hint=_('Use an alias from DATABASES, usually "default".'),
                id="exports.E012",
            )
        )
    return messages


def same_database(a: dict, b: dict) -> bool:
    keys = ("ENGINE", "NAME", "HOST", "PORT")
    return all(a.get(key) == b.get(key) for key in keys)


def check_progress_database() -> list[CheckMessage]:
    if PROGRESS_ALIAS not in connections or "default" not in connections:
        return []
    # The connections' own settings: under a test runner they name the test database.
    progress = connections[PROGRESS_ALIAS].settings_dict
    if same_database(progress, connections["default"].settings_dict):
        return []
    return [
        Error(
            _(
                "DATABASES[%(alias)s] must be a second connection to the default database: "
                "Exportdesk writes export progress there while the export runs."
            )
            % {"alias": repr(PROGRESS_ALIAS)},
            hint=_(
                "Remove DATABASES[%(alias)s] (Exportdesk then adds it itself), or make it "
                '{**DATABASES["default"], "TEST": {"MIRROR": "default"}}.'
            )
            % {"alias": repr(PROGRESS_ALIAS)},
            id="exports.E013",
        )
    ]


# SQLite's lock timeout (seconds) below which a writer gives up before another's commit ends.
SQLITE_SHORTEST_TIMEOUT = 1


@register()
def check_sqlite_writes(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Exportdesk takes SQLite's write lock first in its own transactions (exports.db); what
    a host's settings can still undo."""
    alias = router.db_for_write(ExportAudit)
    return sqlite_write_problems(connections[alias]) if alias in connections else []


def sqlite_write_problems(connection: BaseDatabaseWrapper) -> list[CheckMessage]:
    if connection.vendor != "sqlite":
        return []
    found: list[CheckMessage] = []
    entry = f"DATABASES[{connection.alias!r}]"
    if connection.settings_dict.get("ATOMIC_REQUESTS") and needs_write_lock(connection):
        found.append(
            Warning(
                _(
                    "%(entry)s is SQLite with ATOMIC_REQUESTS: a request's transaction has read "
                    "before an export is queued, and SQLite's default (DEFERRED) transaction "
                    'cannot then write while another user does ("database is locked", at once).'
                )
                % {"entry": entry},
                hint=_(
                    'Add "transaction_mode": "IMMEDIATE" to %(entry)s["OPTIONS"], or turn '
                    "ATOMIC_REQUESTS off."
                )
                % {"entry": entry},
                id="exports.W004",
            )
        )
    timeout = (connection.settings_dict.get("OPTIONS") or {}).get("timeout")
    if timeout is not None and timeout < SQLITE_SHORTEST_TIMEOUT:
        found.append(
            Warning(
                _(
                    "%(entry)s is SQLite with a lock timeout of %(timeout)s s: a writer gives up "
                    'at once while another commits ("database is locked").'
                )
                % {"entry": entry, "timeout": timeout},
                hint=_(
                    'Set %(entry)s["OPTIONS"]["timeout"] to 5 or more (seconds), or remove it '
                    "(Python's default is 5)."
                )
                % {"entry": entry},
                id="exports.W005",
            )
        )
    return found


def check_storage() -> list[CheckMessage]:
    alias = app_settings.STORAGE
    if not uses_fallback():
        return []
    if alias != DEFAULTS["STORAGE"]:
        return [
            Error(
                _("EXPORTS_STORAGE is %(alias)s, but STORAGES has no such alias.")
                % {"alias": repr(alias)},
                hint=_(
                    "Add STORAGES[%(alias)s], or remove EXPORTS_STORAGE to keep exported files "
                    "in a private folder (EXPORTS_ROOT)."
                )
                % {"alias": repr(alias)},
                id="exports.E014",
            )
        ]
    try:
        root = exports_root().resolve()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="exports.E015")]
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        public = getattr(settings, name, None)
        if public and root.is_relative_to(Path(public).resolve()):
            return [
                Error(
                    _(
                        "Exported files would be kept under %(setting)s (%(root)s), which the "
                        "web server may serve to anyone."
                    )
                    % {"setting": name, "root": root},
                    hint=_(
                        "Set EXPORTS_ROOT to a private folder outside MEDIA_ROOT and STATIC_ROOT."
                    ),
                    id="exports.E015",
                )
            ]
    return []


@register(Tags.templates)
def check_templates(app_configs=None, **kwargs) -> list[CheckMessage]:
    try:
        get_template("exports/base.html")
    except TemplateDoesNotExist:
        return [
            Error(
                _("Exportdesk's templates are not found (exports/base.html)."),
                hint=_('Set "APP_DIRS": True in TEMPLATES (or add the app_directories loader).'),
                id="exports.E016",
            )
        ]
    except TemplateSyntaxError as exc:
        return [
            Error(
                _("exports/base.html does not load: %(error)s") % {"error": exc},
                hint=_(
                    "A project template overriding exports/base.html must define the blocks "
                    "`title` and `content`."
                ),
                id="exports.E016",
            )
        ]
    return []


@register(Tags.urls)
def check_urls(app_configs=None, **kwargs) -> list[CheckMessage]:
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("exports:my-downloads")
    except NoReverseMatch:
        return [
            Warning(
                _(
                    "Exportdesk's pages (My downloads) are not in the URLconf: finished exports "
                    "cannot be downloaded."
                ),
                hint=_('Add path("downloads/", include("exports.urls")) to your urlpatterns.'),
                id="exports.W002",
            )
        ]
    return []


@register(Tags.admin)
def check_model_admins(app_configs=None, **kwargs) -> list[CheckMessage]:
    from exports.admin.mixin import ExportMixin

    return [
        Warning(
            _(
                "%(admin)s uses ExportMixin but sets actions = None, which removes every "
                "action, Export… included."
            )
            % {"admin": type(model_admin).__name__},
            hint=_("Set actions = [] to keep only Export…, or drop ExportMixin."),
            obj=type(model_admin),
            id="exports.W003",
        )
        for site in all_sites
        for model_admin in site._registry.values()
        if isinstance(model_admin, ExportMixin) and model_admin.actions is None
    ]


@register()
def check_schedules(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Lifetimes that contradict each other; outside recipients who could never get a file."""
    found: list[CheckMessage] = []
    if app_settings.MAX_FILE_LIFETIME < app_settings.FILE_LIFETIME:
        found.append(
            Error(
                _(
                    "EXPORTS_MAX_FILE_LIFETIME is shorter than EXPORTS_FILE_LIFETIME: the "
                    "default lifetime would exceed the maximum."
                ),
                id="exports.E020",
            )
        )
    if app_settings.ALLOWED_EMAIL_DOMAINS and app_settings.EMAIL_ATTACH_MAX_BYTES <= 0:
        found.append(
            Warning(
                _(
                    "EXPORTS_ALLOWED_EMAIL_DOMAINS is set but EXPORTS_EMAIL_ATTACH_MAX_BYTES is "
                    "0: outside addresses get files only as attachments, so every delivery to "
                    "them will fail."
                ),
                hint=_("Set EXPORTS_EMAIL_ATTACH_MAX_BYTES (e.g. 10485760 for 10 MiB)."),
                id="exports.W020",
            )
        )
    return found
