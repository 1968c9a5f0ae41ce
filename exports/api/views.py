"""The HTTP API's views: thin, each a few lines over the same functions the web pages use."""

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from exports.api import openapi
from exports.api.endpoint import endpoint
from exports.api.payloads import (
    dataset_json,
    declared_dataset,
    decode_cursor,
    encode_cursor,
    export_json,
    export_request,
    immediate_request,
    parse_limit,
    refuse_unknown,
)
from exports.api.problems import ApiError
from exports.clock import utc
from exports.conf import app_settings
from exports.datasets.changelist import can_export, exportable_datasets
from exports.delivery import immediate, ratelimit, serving
from exports.delivery.filenames import safe_filename
from exports.delivery.guards import servable
from exports.delivery.links import with_site_url
from exports.jobs.accept import ExportRefused, queue_export, start_immediate
from exports.models import PENDING, DownloadFile, ExportAudit, ExportStatus
from exports.views import cancel_export, delete_file


def requester(request: HttpRequest) -> str:
    """The audit row's "requested by": the token's label and hint, or the username."""
    token = getattr(request, "api_token", None)
    return token.requester_display if token else request.user.get_username()


def owned_export(request: HttpRequest, pk) -> ExportAudit:
    """Somebody else's export answers exactly as an id that does not exist."""
    audit = (
        ExportAudit.objects.select_related("download")
        .filter(pk=pk, requested_by=request.user)
        .first()
    )
    if audit is None:
        raise ApiError(404, _("There is no export with this id."), "not_found")
    return audit


@endpoint("GET")
def datasets(request: HttpRequest) -> HttpResponse:
    mine = exportable_datasets(request.user)
    return JsonResponse({"datasets": [dataset_json(d) for d in mine]})


@endpoint("GET")
def export_now(request: HttpRequest, dataset: str) -> HttpResponse:
    """Streamed straight into the response; the audit row exists before the first byte."""
    source = declared_dataset(dataset)
    if not can_export(request.user, source.name):
        detail = _("You may not export %(dataset)s.") % {"dataset": repr(source.name)}
        raise ApiError(403, detail, "forbidden")
    fmt, filters, options = immediate_request(request.GET, source)
    try:
        audit, rows = start_immediate(
            request.user, source.name, fmt, filters, options, display=requester(request)
        )
    except ExportRefused as exc:  # more rows than an immediate download may hold
        detail = _("%(reason)s (POST exports/ for a background export.)") % {"reason": exc}
        raise ApiError(422, detail, "too_many_rows") from None
    return immediate.response(audit, rows)


@endpoint("POST")
def start_export(request: HttpRequest) -> HttpResponse:
    wanted = export_request(request)
    accepted = queue_export(
        request.user,
        wanted.dataset,
        wanted.format,
        wanted.filters,
        with_site_url(wanted.options, request),
        wanted.delivery,
        display=requester(request),
    )
    body = {**export_json(accepted.audit, request), "duplicate": accepted.duplicate}
    response = JsonResponse(body, status=200 if accepted.duplicate else 202)
    response["Location"] = body["url"]
    return response


@endpoint("GET")
def export_status(request: HttpRequest, pk) -> HttpResponse:
    return JsonResponse(export_json(owned_export(request, pk), request))


@endpoint("POST")
def cancel(request: HttpRequest, pk) -> HttpResponse:
    audit = owned_export(request, pk)
    if not cancel_export(audit):
        detail = _("The export has already ended (%(status)s).") % {"status": audit.status}
        raise ApiError(409, detail, "already_ended")
    audit.refresh_from_db()
    return JsonResponse(export_json(audit, request))


@endpoint("GET", "DELETE")
def export_file(request: HttpRequest, pk) -> HttpResponse:
    """Owner and expiry are checked on every request; the bytes travel as on the web, and
    count against the same per-user download limit."""
    file = owned_file(owned_export(request, pk))
    if request.method == "DELETE":
        delete_file(file)
        return HttpResponse(status=204)
    if file.is_expired():
        when = f"{utc(file.expires_at):%Y-%m-%d %H:%M}"
        raise ApiError(410, _("The file expired at %(when)s UTC.") % {"when": when}, "gone")
    if not servable(file):
        raise ApiError(404, _("The file is missing from storage."), "not_found")
    refuse_too_many_downloads(request.user.pk)
    file.filename = safe_filename(file.filename)
    return serving.serve(request, file)


def refuse_too_many_downloads(user_id) -> None:
    """Counted only for the caller's own servable file, as on the web: unknown or foreign ids
    cost nothing."""
    wait = ratelimit.hit(user_id)
    if wait:
        text = _(
            "Too many downloads: at most %(most)s a minute, on the web and the API together. "
            "Try again in %(wait)s seconds."
        )
        raise ApiError(
            429,
            text % {"most": app_settings.DOWNLOADS_PER_MINUTE, "wait": wait},
            "too_many_downloads",
            headers={"Retry-After": str(wait)},
        )


def owned_file(audit: ExportAudit) -> DownloadFile:
    if audit.status in PENDING:
        detail = _("The export is still %(status)s; poll its url.") % {"status": audit.status}
        raise ApiError(409, detail, "not_ready")
    if audit.status != ExportStatus.COMPLETED:
        detail = _("The export ended as %(status)s; it has no file.") % {"status": audit.status}
        raise ApiError(404, detail, "no_file")
    file = getattr(audit, "download", None)
    if file is None:
        raise ApiError(410, _("The file was deleted or has expired and been purged."), "gone")
    return file


@endpoint("GET")
def history(request: HttpRequest) -> HttpResponse:
    """Newest first, a page at a time: keyset pagination on (queued_at, id), never OFFSET."""
    refuse_unknown(request.GET, {"limit", "before"}, _("query parameter"))
    most = app_settings.API_HISTORY_MAX_LIMIT
    limit = parse_limit(request.GET.get("limit", min(50, most)), most)
    rows = ExportAudit.objects.filter(requested_by=request.user).select_related("download")
    if "before" in request.GET:
        when, pk = decode_cursor(request.GET["before"])
        rows = rows.filter(Q(queued_at__lt=when) | Q(queued_at=when, pk__lt=pk))
    page = list(rows.order_by("-queued_at", "-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    cursor = encode_cursor(page[-1]) if more else None
    next_url = None
    if cursor:
        query = f"?limit={limit}&before={cursor}"
        next_url = request.build_absolute_uri(reverse("exports_api:history") + query)
    return JsonResponse(
        {"results": [export_json(a, request) for a in page], "next": cursor, "next_url": next_url}
    )


@endpoint("GET", public=True)
def openapi_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse(openapi.document(request))


@endpoint("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
def unknown(request: HttpRequest, rest: str) -> HttpResponse:
    raise ApiError(404, _("No such API endpoint; the endpoints are listed in openapi.json."))
