"""Plain helpers that put finished exports in place without going through a worker."""

from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from exports.delivery.storage import exports_storage, storage_key
from exports.models import DownloadFile, ExportAudit, ExportStatus


def finished_file(owner, *, expires_in: timedelta = timedelta(hours=1), body: bytes = b"a,b\n"):
    audit = ExportAudit.objects.create(
        dataset="user_points",
        format="csv",
        requested_by=owner,
        requested_by_display=owner.username,
        status=ExportStatus.COMPLETED,
    )
    filename = "user_points_20260609T120000Z.csv"
    stored = exports_storage().save(storage_key(filename), ContentFile(body))
    now = timezone.now()
    return DownloadFile.objects.create(
        owner=owner,
        audit=audit,
        stored_name=stored,
        filename=filename,
        content_type="text/csv",
        size=len(body),
        created_at=now - timedelta(minutes=1),
        expires_at=now + expires_in,
    )
