"""My downloads: list, fetch and delete the requester's own files."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from exports.models import PENDING, DownloadFile, ExportAudit
from exports.purge import delete_stored


def get_owned_file(request: HttpRequest, pk) -> DownloadFile:
    """Somebody else's file is indistinguishable from one that does not exist."""
    return get_object_or_404(DownloadFile, pk=pk, owner=request.user)


def private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_GET
@login_required
def my_downloads(request: HttpRequest) -> HttpResponse:
    files = DownloadFile.objects.for_user(request.user).select_related("audit")
    pending = ExportAudit.objects.filter(requested_by=request.user, status__in=PENDING)
    failed = (
        ExportAudit.objects.filter(requested_by=request.user, download__isnull=True)
        .exclude(status__in=PENDING)
        .order_by("-queued_at")[:10]
    )
    context = {"files": files, "pending": pending, "failed": failed}
    return private(render(request, "exports/my_downloads.html", context))


@require_GET
@login_required
def download(request: HttpRequest, pk) -> HttpResponse:
    file = get_owned_file(request, pk)
    if file.is_expired():
        response = render(request, "exports/expired.html", {"file": file}, status=410)
        return private(response)
    response = FileResponse(
        file.open(),
        as_attachment=True,
        filename=file.filename,
        content_type=file.content_type,
    )
    return private(response)


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
