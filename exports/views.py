"""My downloads: list, watch, fetch, cancel and delete the requester's own exports; API tokens."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from exports.api.forms import ApiTokenForm
from exports.datasets.access import may_export
from exports.delivery import serving
from exports.delivery.filenames import safe_filename
from exports.delivery.guards import private_errors, servable
from exports.delivery.purge import delete_stored
from exports.delivery.ratelimit import refused
from exports.models import (
    PENDING,
    ApiToken,
    DownloadFile,
    ExportAudit,
    ExportStatus,
    FileGone,
    TooManyTokens,
)
from exports.signals import finished


def get_owned_file(request: HttpRequest, pk) -> DownloadFile:
    """Somebody else's file is indistinguishable from one that does not exist."""
    return get_object_or_404(DownloadFile, pk=pk, owner=request.user)


def get_owned_export(request: HttpRequest, pk) -> ExportAudit:
    return get_object_or_404(ExportAudit, pk=pk, requested_by=request.user)


def private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def admin_frame(request: HttpRequest) -> dict:
    """exports/base.html is the admin's frame: staff get its nav and user tools; others the
    same header and dark mode, without a sidebar listing admin pages they cannot open."""
    context = admin.site.each_context(request)
    if not context["has_permission"]:
        context.update(is_nav_sidebar_enabled=False, available_apps=[])
    return context


def status_of(audit: ExportAudit) -> dict:
    file = getattr(audit, "download", None) if audit.status == ExportStatus.COMPLETED else None
    return {
        "id": str(audit.pk),
        "dataset": audit.dataset,
        "format": audit.format,
        "status": audit.status,
        "rows_written": audit.row_count,
        "rows_expected": audit.rows_expected,
        "rows_matching": audit.rows_matching,
        "capped": audit.capped,
        "cancellable": audit.cancellable,
        "cap_message": audit.cap_message,
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
        **admin_frame(request),
        "files": DownloadFile.objects.for_user(request.user).select_related("audit"),
        "pending": mine.filter(status__in=PENDING),
        "ended": mine.filter(download__isnull=True)
        .exclude(status__in=PENDING)
        .exclude(schedule_delivery__email__gt="")[:10],  # a schedule's mail to an outsider
    }
    return private(render(request, "exports/my_downloads.html", context))


def json_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A script cannot follow a redirect to the login form: it gets 401 and stops polling."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return private(JsonResponse({"error": "signed out"}, status=401))
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@json_login_required
def pending_status(request: HttpRequest) -> HttpResponse:
    """What the page polls while something is pending."""
    pending = ExportAudit.objects.filter(requested_by=request.user, status__in=PENDING)
    return private(JsonResponse({"pending": [status_of(a) for a in pending]}))


@require_GET
@json_login_required
def export_status(request: HttpRequest, pk) -> HttpResponse:
    return private(JsonResponse(status_of(get_owned_export(request, pk))))


def cancel_export(audit: ExportAudit) -> bool:
    """False when it had already ended; a running worker notices at its next progress report."""
    stopped = ExportAudit.objects.filter(pk=audit.pk, status__in=PENDING).update(
        status=ExportStatus.CANCELLED,
        finished_at=timezone.now(),
        error="Cancelled by its owner.",
    )
    if stopped:
        finished(audit.pk)
    return bool(stopped)


def delete_file(file: DownloadFile) -> None:
    """The row goes now; the stored object once that is committed (never the other way)."""
    stored = file.stored_name
    with transaction.atomic():
        DownloadFile.objects.filter(pk=file.pk).record_gone(FileGone.DELETED)
        file.delete()
        transaction.on_commit(lambda: delete_stored(stored))


@require_POST
@login_required
def cancel(request: HttpRequest, pk) -> HttpResponse:
    audit = get_owned_export(request, pk)
    if cancel_export(audit):
        text = _("Cancelled the %(dataset)s export.") % {"dataset": audit.dataset_title}
        messages.success(request, text)
    else:
        messages.error(request, _("That export had already finished; nothing to cancel."))
    return redirect("exports:my-downloads")


@require_GET
@login_required
@private_errors
def download(request: HttpRequest, pk) -> HttpResponse:
    file = get_owned_file(request, pk)
    if file.is_expired():
        context = {**admin_frame(request), "file": file}
        response = render(request, "exports/expired.html", context, status=410)
        return private(response)
    if not servable(file):  # a stored name outside the storage root, or a missing object
        raise Http404
    # Counted only now: links to unknown or foreign ids must not lock the owner out.
    too_many = refused(request.user.pk)
    if too_many:
        return too_many
    file.filename = safe_filename(file.filename)  # one safe Content-Disposition header
    return private(serving.serve(request, file))


@require_POST
@login_required
def delete(request: HttpRequest, pk) -> HttpResponse:
    file = get_owned_file(request, pk)
    delete_file(file)
    messages.success(request, _("Deleted %(name)s.") % {"name": file.filename})
    return redirect("exports:my-downloads")


@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """A new token's secret appears in this one response and is kept nowhere."""
    form = ApiTokenForm(request.user, request.POST or None)
    created = None
    if form.is_bound and not may_export(request.user):
        # Anyone may see and revoke their tokens; only those who may export get new ones.
        return private(HttpResponseForbidden(_("You do not have permission to export data.")))
    if form.is_bound and form.is_valid():
        try:
            token, secret = ApiToken.issue(
                request.user, form.cleaned_data["label"], form.expires_at()
            )
        except TooManyTokens as exc:
            form.refuse_too_many(exc.limit)
        else:
            created = {"token": token, "secret": secret}
            form = ApiTokenForm(request.user)
    context = {
        **admin_frame(request),
        "form": form,
        "created": created,
        "tokens": ApiToken.objects.filter(owner=request.user),
        "api_url": api_root(request),
    }
    return private(render(request, "exports/tokens.html", context))


def api_root(request: HttpRequest) -> str | None:
    """Where the host mounted exports.api.urls, if it did."""
    try:
        return request.build_absolute_uri(
            reverse("exports_api:openapi").removesuffix("openapi.json")
        )
    except NoReverseMatch:
        return None


@require_POST
@login_required
def revoke_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, owner=request.user)
    if token.revoke():
        messages.success(request, _("Revoked the token %(token)s.") % {"token": token})
    return redirect("exports:api-tokens")
