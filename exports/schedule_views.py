"""My downloads' buttons for work that comes back: run an export again, keep a file 24 hours
longer, pause or resume one of the user's schedules. All POST with CSRF, owner only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from exports.clock import local
from exports.datasets.conditions import ConditionError
from exports.delivery.lifetime import keep_longer
from exports.jobs.accept import ExportRefused
from exports.models import ExportSchedule
from exports.scheduling.due import pause_by_owner, resume
from exports.scheduling.saved import run_again
from exports.views import get_owned_export, get_owned_file

BACK = "exports:my-downloads"


def get_owned_schedule(request: HttpRequest, pk) -> ExportSchedule:
    return get_object_or_404(ExportSchedule, pk=pk, saved_export__owner=request.user)


@require_POST
@login_required
def run_export_again(request: HttpRequest, pk) -> HttpResponse:
    audit = get_owned_export(request, pk)
    try:
        accepted = run_again(request.user, audit)
    except (PermissionDenied, ConditionError, LookupError, ExportRefused) as exc:
        messages.error(request, _("Not run again: %(reason)s") % {"reason": exc})
        return redirect(BACK)
    if accepted.duplicate:
        messages.info(request, _("The same export is already queued or running."))
    else:
        messages.success(
            request, _("Running the %(title)s export again.") % {"title": audit.dataset_title}
        )
    return redirect(BACK)


@require_POST
@login_required
def keep_file_longer(request: HttpRequest, pk) -> HttpResponse:
    file = get_owned_file(request, pk)
    refused = keep_longer(file)
    if refused:
        messages.error(request, refused)
    else:
        until = local(file.expires_at)
        messages.success(
            request,
            _("%(filename)s is kept until %(until)s.")
            % {"filename": file.filename, "until": f"{until:%Y-%m-%d %H:%M}"},
        )
    return redirect(BACK)


@require_POST
@login_required
def pause_schedule(request: HttpRequest, pk) -> HttpResponse:
    schedule = get_owned_schedule(request, pk)
    pause_by_owner(schedule, request.user)
    messages.success(request, _("Paused “%(name)s”.") % {"name": schedule.saved_export.name})
    return redirect(BACK)


@require_POST
@login_required
def resume_schedule(request: HttpRequest, pk) -> HttpResponse:
    schedule = get_owned_schedule(request, pk)
    resume(schedule)
    when = local(schedule.next_run_at)
    name = schedule.saved_export.name
    messages.success(
        request,
        _("Resumed “%(name)s”; next run %(when)s.")
        % {"name": name, "when": f"{when:%Y-%m-%d %H:%M}"},
    )
    return redirect(BACK)
