"""System checks (`manage.py check`, and every qcluster start) for settings that would run an
export twice or declare a live one dead."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from exports.conf import app_settings


@register()
def check_queue_timing(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    cluster = getattr(settings, "Q_CLUSTER", {}) or {}
    timeout, retry = cluster.get("timeout"), cluster.get("retry", 60)
    if timeout is None:
        errors.append(
            Error(
                "Q_CLUSTER has no timeout: a long export outlives `retry` and is delivered again.",
                hint="Set Q_CLUSTER['timeout'] (Q_TIMEOUT) below Q_CLUSTER['retry'] (Q_RETRY).",
                id="exports.E001",
            )
        )
    elif retry <= timeout:
        errors.append(
            Error(
                f"Q_CLUSTER retry ({retry}s) must exceed timeout ({timeout}s): otherwise the "
                "broker hands a still-running export to a second worker.",
                hint="Raise Q_RETRY above Q_TIMEOUT plus a margin (e.g. timeout + 300).",
                id="exports.E001",
            )
        )
    beat = app_settings.HEARTBEAT_SECONDS
    stale = app_settings.STALE_SECONDS
    if stale <= 2 * beat:
        errors.append(
            Error(
                f"EXPORTS_STALE_SECONDS ({stale}) must exceed twice EXPORTS_HEARTBEAT_SECONDS "
                f"({beat}): the sweeper would take live exports from their workers.",
                id="exports.E002",
            )
        )
    if app_settings.MAX_ATTEMPTS < 1:
        errors.append(Error("EXPORTS_MAX_ATTEMPTS must be at least 1.", id="exports.E003"))
    return errors


@register()
def check_schedules(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Lifetimes that contradict each other; outside recipients who could never get a file."""
    found: list[CheckMessage] = []
    if app_settings.MAX_FILE_LIFETIME < app_settings.FILE_LIFETIME:
        found.append(
            Error(
                "EXPORTS_MAX_FILE_LIFETIME is shorter than EXPORTS_FILE_LIFETIME: the default "
                "lifetime would exceed the maximum.",
                id="exports.E010",
            )
        )
    if app_settings.ALLOWED_EMAIL_DOMAINS and app_settings.EMAIL_ATTACH_MAX_BYTES <= 0:
        found.append(
            Warning(
                "EXPORTS_ALLOWED_EMAIL_DOMAINS is set but EXPORTS_EMAIL_ATTACH_MAX_BYTES is 0: "
                "outside addresses get files only as attachments, so every delivery to them "
                "will fail.",
                hint="Set EXPORTS_EMAIL_ATTACH_MAX_BYTES (e.g. 10485760 for 10 MiB).",
                id="exports.W010",
            )
        )
    return found
