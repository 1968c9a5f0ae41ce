import contextlib
import copy

from django.apps import AppConfig
from django.conf import settings
from django.db import OperationalError, connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _

PROGRESS_ALIAS = "progress"


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = _("Exports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exports import checks  # noqa: F401 - registers the system checks
        from exports.api import revocation
        from exports.conf import app_settings
        from exports.datasets.registry import registry
        from exports.jobs.schedules import ensure_schedules
        from exports.queues import checks as queue_checks  # noqa: F401
        from exports.scheduling.runs import on_export_finished
        from exports.signals import export_finished

        add_progress_alias()
        connection_created.connect(sqlite_wal, dispatch_uid="exports.sqlite_wal")
        # Every installed app's datasets.py declares its datasets, as admin.py does ModelAdmins.
        autodiscover_modules("datasets", register_to=registry)
        post_migrate.connect(ensure_schedules, sender=self)
        if app_settings.QUEUE == "celery" and checks.installed("celery"):
            # The worker's task. Without Celery Django must still start: exports.E031 says
            # which extra to install.
            from exports.queues import on_celery  # noqa: F401
        export_finished.connect(on_export_finished, dispatch_uid="exports.scheduling")
        revocation.connect()  # a user's API tokens die with their password or activity


def add_progress_alias() -> None:
    """Progress and cancel checks commit on a second connection while an export's own
    transaction (which keeps its server-side cursor alive) stays open. A project that does
    not declare DATABASES["progress"] gets one: the default database again, which tests
    mirror rather than create."""
    databases = settings.DATABASES
    if PROGRESS_ALIAS in databases or "default" not in databases:
        return
    progress = copy.deepcopy(databases["default"])
    progress["TEST"] = {**progress.get("TEST", {}), "MIRROR": "default"}
    databases[PROGRESS_ALIAS] = progress
    connections.__dict__.pop("settings", None)  # read DATABASES again if it was read already


def sqlite_wal(sender, connection, **kwargs) -> None:
    """In SQLite's default rollback-journal mode an export's open read blocks the progress
    writes on the second connection ("database is locked"); in WAL mode they run side by
    side. The mode is stored in the file: set once, unless the project chose its own."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return
    if "journal_mode" in str(connection.settings_dict.get("OPTIONS", {}).get("init_command")):
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0].lower() == "wal":
            return
        # Another process holding the file makes this fail; the next connection tries again.
        with contextlib.suppress(OperationalError):
            cursor.execute("PRAGMA journal_mode=WAL")
