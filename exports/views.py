"""My downloads: list, watch, fetch, cancel and delete the requester's own exports."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from exports.delivery import serving
from exports.delivery.filenames import safe_filename
from exports.delivery.guards import private_errors, servable
from exports.delivery.purge import delete_stored
from exports.delivery.ratelimit import rate_limited
from exports.models import PENDING, DownloadFile, ExportAudit, ExportStatus
from exports.signals import finished


def get_owned_file(request: HttpRequest, pk) -> DownloadFile:
    """Somebody else's file is indistinguishable from one that does not exist."""
    return get_object_or_404(DownloadFile, pk=pk, owner=request.user)


def get_owned_export(request: HttpRequest, pk) -> ExportAudit:
    return get_object_or_404(ExportAudit, pk=pk, requested_by=request.user)


def private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def status_of(audit: ExportAudit) -> dict:
    file = getattr(audit, "download", None) if audit.status == ExportStatus.COMPLETED else None
    return {
        "id": str(audit.pk),
        "dataset": audit.dataset,
        "format": audit.format,
        "status": audit.status,
        "rows_written": audit.row_count,
        "rows_expected": audit.rows_expected,
        "percent": audit.progress_percent,
        "error": audit.error,
        "download_url": file.get_absolute_url() if file else None,
        "filename": file.filename if file else None,
    }


@require_GET
@login_required
def my_downloads(request: HttpRequest) -> HttpResponse:
    mine = ExportAudit.objects.filter(requested_by=request.user)
    context = {
        "files": DownloadFile.objects.for_user(request.user).select_related("audit"),
        "pending": mine.filter(status__in=PENDING),
        "ended": mine.filter(download__isnull=True)
        .exclude(status__in=PENDING)
        .exclude(schedule_delivery__email__gt="")[:10],  # a schedule's mail to an outsider
    }
    return private(render(request, "exports/my_downloads.html", context))


@require_GET
@login_required
def pending_status(request: HttpRequest) -> HttpResponse:
    """What the page polls while something is pending."""
    pending = ExportAudit.objects.filter(requested_by=request.user, status__in=PENDING)
    return private(JsonResponse({"pending": [status_of(a) for a in pending]}))


@require_GET
@login_required
def export_status(request: HttpRequest, pk) -> HttpResponse:
    return private(JsonResponse(status_of(get_owned_export(request, pk))))


@require_POST
@login_required
def cancel(request: HttpRequest, pk) -> HttpResponse:
    audit = get_owned_export(request, pk)
    stopped = ExportAudit.objects.filter(pk=audit.pk, status__in=PENDING).update(
        status=ExportStatus.CANCELLED, finished_at=timezone.now(), error="Cancelled by its owner."
    )
    if stopped:
        finished(audit.pk)
        messages.success(request, f"Cancelled the {audit.dataset_title} export.")
    else:
        messages.error(request, "That export had already finished; nothing to cancel.")
    return redirect("exports:my-downloads")


@require_GET
@login_required
@private_errors
@rate_limited
def download(request: HttpRequest, pk) -> HttpResponse:
    file = get_owned_file(request, pk)
    if file.is_expired():
        response = render(request, "exports/expired.html", {"file": file}, status=410)
        return private(response)
    if not servable(file):  # a stored name outside the storage root, or a missing object
        raise Http404
    file.filename = safe_filename(file.filename)  # one safe Content-Disposition header
    return private(serving.serve(request, file))


@require_POST
@login_required
def delete(request: HttpRequest, pk) -> HttpResponse:
    file = get_owned_file(request, pk)
    name, stored = file.filename, file.stored_name
    with transaction.atomic():
        file.delete()
        transaction.on_commit(lambda: delete_stored(stored))
    messages.success(request, f"Deleted {name}.")
    return redirect("exports:my-downloads")
