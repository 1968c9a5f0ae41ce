"""Export audit rows and the per-user files they produce."""

import uuid
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.utils.translation import gettext_lazy as _

from exports.delivery.storage import exports_storage


class ExportStatus(models.TextChoices):
    """queued -> running -> completed | failed; queued or running -> cancelled."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


PENDING = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class Delivery(models.TextChoices):
    BACKGROUND = "background", _("Background (My downloads)")
    IMMEDIATE = "immediate", _("Immediate (download now)")
    EMAIL = "email", _("E-mail me a link when ready")


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
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        verbose_name = _("export audit row")
        permissions = [("export_data", _("Can export data"))]

    def __str__(self) -> str:
        return f"{self.dataset}.{self.format} by {self.requested_by_display} ({self.status})"

    @property
    def dataset_title(self) -> str:
        """ "User points" rather than "admin:demo.userpoint" on pages people read."""
        label = self.dataset.removeprefix("admin:")
        if label != self.dataset:
            try:
                return str(apps.get_model(label)._meta.verbose_name_plural).capitalize()
            except (LookupError, ValueError):
                pass
        return self.dataset

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING

    @property
    def progress_percent(self) -> int | None:
        if not self.rows_expected:
            return None
        return min(100, round(100 * self.row_count / self.rows_expected))

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
