"""Export audit rows and the per-user files they produce; saved exports, their schedules and
the sent log (the logic lives in exports/scheduling/)."""

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import datetime, time

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.utils.translation import gettext_lazy as _

from exports.conf import app_settings
from exports.delivery.storage import exports_storage


class ExportStatus(models.TextChoices):
    """queued -> running -> completed | failed; queued or running -> cancelled."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


PENDING = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class FileGone(models.TextChoices):
    """Why a completed export no longer has its file (told on My downloads)."""

    DELETED = "deleted", _("deleted by you")
    PURGED = "purged", _("expired and purged")
    ADMIN = "admin", _("deleted by an administrator")


def dataset_title(name: str) -> str:
    """ "User points" rather than "admin:demo.userpoint" on pages people read."""
    from exports.datasets.registry import registry  # it imports no models

    if name in registry:
        return registry.get(name).title
    label = name.removeprefix("admin:")
    if label != name:
        try:
            return str(apps.get_model(label)._meta.verbose_name_plural).capitalize()
        except (LookupError, ValueError):
            pass
    return name


class Trigger(models.TextChoices):
    """Why an export ran: someone asked, a schedule was due, or an earlier one was run again."""

    MANUAL = "manual", _("Manual")
    SCHEDULE = "schedule", _("Schedule")
    RERUN = "rerun", _("Re-run")


class Delivery(models.TextChoices):
    BACKGROUND = "background", _("Background (My downloads)")
    IMMEDIATE = "immediate", _("Immediate (download now)")
    EMAIL = "email", _("E-mail me a link when ready")
    COMMAND = "command", _("Command line (manage.py export)")


# What a person may ask for on a form; COMMAND is the command line's own.
REQUESTABLE_DELIVERIES = [(v, label) for v, label in Delivery.choices if v != Delivery.COMMAND]


class ExportAudit(models.Model):
    """Written when an export is accepted, before any byte exists; kept after its file goes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.CharField(max_length=100)
    format = models.CharField(max_length=20)
    filters = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="export_audits",
    )
    requested_by_display = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=ExportStatus.choices, default=ExportStatus.QUEUED, db_index=True
    )
    delivery = models.CharField(
        max_length=20, choices=Delivery.choices, default=Delivery.BACKGROUND
    )
    row_count = models.BigIntegerField(default=0, help_text=_("Rows written so far."))
    rows_expected = models.BigIntegerField(null=True, blank=True)
    rows_matching = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("Rows the filters matched; more than expected when the row cap cut them."),
    )
    bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text=_("What the writer had to change, if anything."))
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "Last sign of life: when the job was (re)sent while queued, "
            "the worker's beat while running."
        ),
    )
    reserved_bytes = models.BigIntegerField(
        default=0, help_text=_("Storage quota held by this export while it runs.")
    )
    file_gone = models.CharField(
        max_length=20, choices=FileGone.choices, blank=True, help_text=_("Why its file went.")
    )
    file_gone_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    schedule = models.ForeignKey(
        "ExportSchedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audits",
    )
    saved_export = models.ForeignKey(
        "SavedExport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audits",
    )

    class Meta:
        ordering = ["-queued_at"]
        verbose_name = _("export audit row")
        permissions = [("export_data", _("Can export data"))]

    def __str__(self) -> str:
        return f"{self.dataset}.{self.format} by {self.requested_by_display} ({self.status})"

    @property
    def dataset_title(self) -> str:
        return dataset_title(self.dataset)

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING

    @property
    def progress_percent(self) -> int | None:
        if not self.rows_expected:
            return None
        return min(100, round(100 * self.row_count / self.rows_expected))

    @property
    def cancellable(self) -> bool:
        """An immediate download is stopped in the browser that receives it, not here."""
        return self.is_pending and self.delivery != Delivery.IMMEDIATE

    @property
    def capped(self) -> bool:
        """The row cap, not the filters, decided where the file ends."""
        return (self.rows_matching or 0) > (self.rows_expected or 0)

    @property
    def cap_message(self) -> str:
        if not self.capped:
            return ""
        if self.status == ExportStatus.COMPLETED:
            text = _("stopped at the row cap: %(written)s of %(matching)s rows")
            return text % {"written": f"{self.row_count:,}", "matching": f"{self.rows_matching:,}"}
        text = _("will stop at the row cap: %(written)s of %(matching)s rows")
        return text % {"written": f"{self.rows_expected:,}", "matching": f"{self.rows_matching:,}"}

    @property
    def selection_note(self) -> str:
        """A finished changelist export against what the user chose ("48 of 50 selected
        rows; 2 no longer exist…"); "" for anything else."""
        selected = (self.filters or {}).get("selected")
        if selected is None or self.status != ExportStatus.COMPLETED:
            return ""
        from exports.datasets.capture import selection_note

        return selection_note(int(selected), self.row_count, bool(self.filters.get("conditions")))

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def get_status_url(self) -> str:
        return reverse("exports:status", args=[self.pk])

    def get_cancel_url(self) -> str:
        return reverse("exports:cancel", args=[self.pk])


class DatasetExport(ExportAudit):
    """No table of its own: gives the admin its "Datasets" page (see admin.py)."""

    class Meta:
        proxy = True
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")


class DownloadFileQuerySet(models.QuerySet):
    def for_user(self, user) -> "DownloadFileQuerySet":
        return self.filter(owner=user)

    def expired(self, now: datetime | None = None) -> "DownloadFileQuerySet":
        return self.filter(expires_at__lte=now or timezone.now())

    def record_gone(self, why: str) -> int:
        """Call before deleting: the audit rows keep why and when their files went."""
        return ExportAudit.objects.filter(download__in=self).update(
            file_gone=why, file_gone_at=timezone.now()
        )


class DownloadFile(models.Model):
    """A finished export in storage, owned by one user until it expires."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="download_files"
    )
    audit = models.OneToOneField(ExportAudit, on_delete=models.PROTECT, related_name="download")
    # The key in the exports storage; resolved through exports_storage() on every use.
    stored_name = models.CharField(max_length=500, unique=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    objects = DownloadFileQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def size_display(self) -> str:
        return filesizeformat(self.size)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())

    @property
    def time_left(self) -> str:
        return str(_("expired")) if self.is_expired() else timeuntil(self.expires_at)

    def open(self):
        return exports_storage().open(self.stored_name, "rb")

    def get_absolute_url(self) -> str:
        return reverse("exports:download", args=[self.pk])

    def get_delete_url(self) -> str:
        return reverse("exports:delete", args=[self.pk])


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now: datetime | None = None) -> "ApiTokenQuerySet":
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def revoke(self, reason: str = "") -> int:
        """Expired tokens too: their row then says why they may never come back."""
        return self.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason
        )


class TooManyTokens(Exception):
    """The owner already holds EXPORTS_MAX_TOKENS_PER_USER usable tokens."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"at most {limit} active API token{'s' if limit != 1 else ''} a user")


class ApiToken(models.Model):
    """A personal token for the HTTP API. The secret is shown once and kept only as a SHA-256
    hash; the short prefix stays in clear so a token can be looked up and recognised."""

    START = "exd_"
    FORMAT = re.compile(r"exd_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    label = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when revoked for the owner ("password changed", "account deactivated"): the 401 and
    # the tokens page say why a script stopped working.
    revoked_reason = models.CharField(max_length=100, blank=True, editable=False)
    # The per-token rate limit: requests counted in the current one-minute window.
    rate_window = models.BigIntegerField(default=0, editable=False)
    rate_count = models.PositiveIntegerField(default=0, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.label} ({self.hint})"

    @property
    def hint(self) -> str:
        """What people see of a token: enough to recognise it, useless to use it."""
        return f"{self.START}{self.prefix}…"

    @property
    def requester_display(self) -> str:
        """What an audit row keeps about an API request: the label, never the secret."""
        return f"API token {self.label} ({self.hint})"

    @staticmethod
    def digest(token: str) -> str:
        # The secret has 256 random bits: a fast hash is enough, a slow one would only cost.
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, owner, label: str, expires_at: datetime | None = None) -> tuple["ApiToken", str]:
        """A new token and its secret, which exists nowhere else once the caller drops it.
        Raises TooManyTokens when the owner already holds EXPORTS_MAX_TOKENS_PER_USER usable
        tokens; the owner's row stays locked while they are counted, so two requests at once
        cannot both slip under the cap."""
        from exports.db import write_atomic  # exports.db imports this module

        with write_atomic():
            get_user_model().objects.select_for_update().filter(pk=owner.pk).exists()
            limit = app_settings.MAX_TOKENS_PER_USER
            if limit and cls.objects.filter(owner=owner).usable().count() >= limit:
                raise TooManyTokens(limit)
            return cls._mint(owner, label, expires_at)

    @classmethod
    def _mint(cls, owner, label: str, expires_at: datetime | None) -> tuple["ApiToken", str]:
        for _attempt in range(5):
            prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
            token = f"{cls.START}{prefix}_{secret}"
            try:
                with transaction.atomic():
                    row = cls.objects.create(
                        owner=owner,
                        label=label,
                        prefix=prefix,
                        hash=cls.digest(token),
                        expires_at=expires_at,
                    )
                return row, token
            except IntegrityError:  # the prefix is taken; draw again
                continue
        raise RuntimeError("Could not find a free token prefix.")

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.digest(token), self.hash)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "expired" if self.is_expired() else "active"

    def revoke(self, reason: str = "") -> bool:
        """True if this call revoked it (a second revoke changes nothing)."""
        done = ApiToken.objects.filter(pk=self.pk).revoke(reason)
        self.refresh_from_db(fields=["revoked_at", "revoked_reason"])
        return bool(done)


class DownloadCounter(models.Model):
    """Downloads per user in one fixed one-minute window: the rate limit's counter, bumped by
    one atomic upsert (exports.delivery.ratelimit), so every web process shares it and no
    cache needs to be configured. Old windows go with the purge."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "window_start"], name="exports_one_counter")
        ]

    def __str__(self) -> str:
        return f"{self.count} download(s) from {self.window_start:%H:%M}"


class ApiRequestCounter(models.Model):
    """API requests a user made with a browser session in one fixed one-minute window (a
    token's requests are counted on the token), bumped by the same atomic upsert as
    DownloadCounter: per user, so opening more sessions buys no more requests."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "window_start"], name="exports_one_api_request_counter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} API request(s) from {self.window_start:%H:%M}"


# --- Saved exports, schedules, recipients and the sent log (logic: exports/scheduling/) ------


class SavedExportQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SavedExportQuerySet":
        """Superusers see all; others their own and those shared with one of their groups."""
        if user.is_superuser:
            return self
        shared = models.Q(shared_with__in=user.groups.all())
        return self.filter(models.Q(owner=user) | shared).distinct()


class SavedExport(models.Model):
    """A named export definition: a dataset or a changelist querystring (never a list of
    ids), columns and writer options, a format. Groups it is shared with may run it, not
    change it; whoever runs it does so with their own permissions, checked then."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_exports"
    )
    dataset = models.CharField(max_length=100)
    format = models.CharField(max_length=20)
    filters = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    shared_with = models.ManyToManyField(
        "auth.Group", blank=True, related_name="shared_exports", help_text=_("Read-only for them.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedExportQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def dataset_title(self) -> str:
        return dataset_title(self.dataset)


class ScheduleKind(models.TextChoices):
    INTERVAL = "interval", _("Every N hours or days")
    WEEKLY = "weekly", _("Weekly, on chosen days")
    CRON = "cron", _("Cron expression")


class IntervalUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    DAYS = "days", _("days")


class ExportScheduleQuerySet(models.QuerySet):
    def due(self, now: datetime) -> "ExportScheduleQuerySet":
        return self.filter(paused=False, next_run_at__lte=now)

    def owned_by(self, user) -> "ExportScheduleQuerySet":
        return self if user.is_superuser else self.filter(saved_export__owner=user)


class ExportSchedule(models.Model):
    """A saved export that runs on its own, in the site's time zone, for its recipients."""

    saved_export = models.ForeignKey(
        SavedExport, on_delete=models.CASCADE, related_name="schedules"
    )
    kind = models.CharField(max_length=20, choices=ScheduleKind.choices)
    every = models.PositiveIntegerField(default=1, help_text=_("Interval schedules."))
    unit = models.CharField(max_length=10, choices=IntervalUnit.choices, default="days")
    weekdays = models.JSONField(default=list, blank=True, help_text=_("0 = Monday … 6 = Sunday."))
    at_time = models.TimeField(
        default=time(7, 0), help_text=_("Time of day (site time zone) for daily and weekly runs.")
    )
    cron = models.CharField(
        max_length=100, blank=True, help_text=_("minute hour day-of-month month day-of-week")
    )
    starts_at = models.DateTimeField(default=timezone.now, help_text=_("First possible run."))
    incremental = models.BooleanField(
        default=False, help_text=_("Each recipient gets only rows they have not had yet.")
    )
    skip_empty = models.BooleanField(
        null=True,
        blank=True,
        verbose_name=_("When there are no rows"),
    )
    lifetime_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("How long the files stay; empty: the site's default.")
    )
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    failures_in_row = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ExportScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["next_run_at"]
        # Without it an owner addresses members of their own groups only
        # (exports.scheduling.recipients).
        permissions = [("send_to_anyone", _("Can send scheduled exports to anyone"))]

    def __str__(self) -> str:
        return f"{self.saved_export.name} (#{self.pk})"

    @property
    def owner(self):
        return self.saved_export.owner

    @property
    def skips_empty(self) -> bool:
        return self.incremental if self.skip_empty is None else self.skip_empty


class ScheduleRecipient(models.Model):
    """One user, one group (its active members at send time) or one outside address."""

    schedule = models.ForeignKey(
        ExportSchedule, on_delete=models.CASCADE, related_name="recipients"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(blank=True, verbose_name=_("outside e-mail address"))

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, group__isnull=True, email="")
                    | models.Q(user__isnull=True, group__isnull=False, email="")
                    | (models.Q(user__isnull=True, group__isnull=True) & ~models.Q(email=""))
                ),
                name="exports_recipient_exactly_one",
            )
        ]

    def __str__(self) -> str:
        return str(self.user or self.group or self.email)

    def clean(self) -> None:
        from exports.scheduling.recipients import validate_recipient

        validate_recipient(self)


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class ScheduleRun(models.Model):
    """One run of a schedule: one export per recipient, each with its DeliveryLog."""

    schedule = models.ForeignKey(ExportSchedule, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.schedule} at {self.started_at:%Y-%m-%d %H:%M}"


class DeliveryStatus(models.TextChoices):
    """exporting -> sent | failed; skipped and empty are final from the start."""

    EXPORTING = "exporting", _("Exporting")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")
    EMPTY = "empty", _("Nothing to send")


class DeliveryLog(models.Model):
    """One file to one recipient: when, which file, how many rows, success or the error."""

    run = models.ForeignKey(ScheduleRun, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.CharField(max_length=300, help_text='"user:<id>" or "email:<address>"')
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    email = models.EmailField(blank=True)
    audit = models.OneToOneField(
        ExportAudit,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="schedule_delivery",
    )
    incremental = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.EXPORTING
    )
    rows = models.BigIntegerField(default=0)
    filename = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.to} ({self.status})"

    @property
    def to(self) -> str:
        return self.email or (self.user.get_username() if self.user else self.recipient)


class SentLog(models.Model):
    """CamCOPS' sent log, one per schedule, recipient and dataset: a row needs sending to
    this recipient if its primary key is in none of the log's ranges."""

    schedule = models.ForeignKey(ExportSchedule, on_delete=models.CASCADE, related_name="sent_logs")
    recipient = models.CharField(max_length=300)
    dataset = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "recipient", "dataset"], name="exports_sentlog_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient} / {self.dataset}"


class SentRange(models.Model):
    """Rows lo..hi (primary keys, inclusive) reached the recipient in one delivery: every
    integer in the range was sent, so a run of consecutive keys costs one row, not thousands."""

    # Indexed by (log, lo) below; a second index on log alone would only slow the writes.
    log = models.ForeignKey(
        SentLog, on_delete=models.CASCADE, related_name="ranges", db_index=False
    )
    lo = models.BigIntegerField()
    hi = models.BigIntegerField()
    delivery = models.ForeignKey(
        DeliveryLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["log", "lo"], name="exports_sentrange_log_lo")]

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


class PendingRow(models.Model):
    """A row chosen for a delivery still on its way; it enters the sent log only if that
    delivery succeeds, and is dropped if it fails."""

    delivery = models.ForeignKey(
        DeliveryLog, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    row_pk = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["delivery", "row_pk"], name="exports_pendingrow_delivery")]

    def __str__(self) -> str:
        return str(self.row_pk)
