"""The admin's export pages: the options page an action shows, and what submitting it does."""

from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exports.admin.forms import ExportOptionsForm
from exports.admin.saving import save_as, wants_saving
from exports.datasets import capture
from exports.datasets.changelist import (
    admin_dataset_name,
    dataset_for,
    live_only_columns,
    request_context,
    shown_as_admin,
    shown_fields,
)
from exports.datasets.conditions import ConditionError
from exports.delivery import immediate
from exports.delivery.links import with_site_url
from exports.engine import row_cap
from exports.formats import MissingDependency
from exports.jobs.accept import ExportRefused, queue_export, start_immediate
from exports.models import Delivery


def accept(
    request: HttpRequest,
    dataset: str,
    fmt: str,
    filters: dict[str, Any],
    options: dict[str, Any],
    delivery: str,
) -> HttpResponse | None:
    """Start the export; None means 'done, messages say how' and the caller redirects."""
    options = with_site_url(options, request)  # its e-mails link to the host asked on
    try:
        if delivery == Delivery.IMMEDIATE:
            audit, source = start_immediate(request.user, dataset, fmt, filters, options)
            return immediate.response(audit, source)
        accepted = queue_export(request.user, dataset, fmt, filters, options, delivery)
    except MissingDependency as exc:
        messages.error(request, str(exc))
        return HttpResponse(str(exc), status=503, content_type="text/plain")
    except immediate.ImmediateFailed as exc:
        messages.error(request, _("The export failed: %(reason)s") % {"reason": exc})
        return None
    except (ConditionError, LookupError, ExportRefused) as exc:
        messages.error(request, str(exc))
        return None
    link = reverse("exports:my-downloads")
    if accepted.duplicate:
        text = _(
            'The same export is already {status}; follow it on <a href="{link}">My downloads</a>.'
        )
        messages.info(request, format_html(text, status=accepted.audit.status, link=link))
    else:
        if delivery == Delivery.EMAIL:
            text = _(
                "Export queued. You will get an e-mail when it is ready; it will also appear "
                'in <a href="{link}">My downloads</a>.'
            )
        else:
            text = _(
                'Export queued. It will appear in <a href="{link}">My downloads</a> when it is '
                "ready."
            )
        messages.success(request, format_html(text, link=link))
    return None


def json_safe(pk: Any) -> Any:
    """A primary key as the audit's JSON can hold it: UUIDs, Decimals and dates become text,
    which the pk field's lookup turns back into its own type when the export runs."""
    return pk if isinstance(pk, int | str) else str(pk)


def selection_filters(model_admin, request: HttpRequest, queryset: QuerySet) -> dict[str, Any]:
    """What the export reads, captured from the live changelist: `queryset` is the one the
    admin handed the action (its filters, search, date hierarchy, ordering and get_queryset,
    narrowed to the ticked rows). The querystring and the ticked ids stay beside it for runs
    without a click (Run again), with the request's context for their replay."""
    querystring = request.GET.copy()
    querystring.pop("p", None)
    filters: dict[str, Any] = {"changelist": querystring.urlencode()}
    if request.POST.get("select_across") == "1":
        filters[capture.SELECTED] = queryset.count()
    else:
        ids = [json_safe(pk) for pk in queryset.values_list("pk", flat=True)]
        filters["conditions"] = {"id": ids}
        filters[capture.SELECTED] = len(set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)))
    filters["request"] = request_context(request, model_admin.admin_site.name)
    shown = shown_fields(model_admin, request)
    filters[capture.KEY] = capture.dumps(queryset, shown, model_admin.get_list_display(request))
    return filters


def needs_the_page(request: HttpRequest, name: str, filters: dict, options: dict) -> str:
    """Why a background export "as shown" cannot leave this request: the columns that fail
    without it, by name; "" when none does."""
    if not shown_as_admin(options):
        return ""
    failing = live_only_columns(dataset_for(name, request.user, filters, display=True))
    if not failing:
        return ""
    names = ", ".join(f"“{heading}”" for heading in failing)
    return _(
        "Column %(names)s needs the live page: export it immediately or choose raw values."
    ) % {"names": names}


def export_action(model_admin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    """Like delete_selected: first show the options page, then act on its submission."""
    select_across = request.POST.get("select_across") == "1"
    name = admin_dataset_name(model_admin.model)
    site_name = model_admin.admin_site.name
    try:
        filters = selection_filters(model_admin, request, queryset)
    except ConditionError as exc:
        messages.error(request, str(exc))
        return None
    count = filters[capture.SELECTED]
    dataset = dataset_for(name, request.user, filters)
    form = ExportOptionsForm(request.POST if request.POST.get("post") else None, dataset=dataset)
    if dataset.omitted and not form.is_bound:
        left_out = "; ".join(f"{path} ({why})" for path, why in dataset.omitted)
        text = _("Left out of this export: %(columns)s.") % {"columns": left_out}
        messages.warning(request, text)
    if form.is_bound and form.is_valid():
        delivery = form.cleaned_data["delivery"]
        live_only = delivery != Delivery.IMMEDIATE and needs_the_page(
            request, name, filters, form.export_options()
        )
        if live_only:
            messages.error(request, live_only)
            return None
        if wants_saving(request):
            return save_as(
                request,
                name,
                form.cleaned_data["format"],
                capture.replayable(filters),
                form.export_options(),
            )
        return accept(
            request,
            name,
            form.cleaned_data["format"],
            filters,
            form.export_options(),
            delivery,
        )
    request.current_app = site_name  # the page's admin links stay on this site
    if select_across:
        title = ngettext(
            "Export all %(count)d matching row", "Export all %(count)d matching rows", count
        )
    else:
        title = ngettext("Export %(count)d selected row", "Export %(count)d selected rows", count)
    cap = row_cap()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title % {"count": count},
        "subtitle": None,
        "opts": model_admin.model._meta,
        "dataset": dataset,
        "count": count,
        "row_cap": cap,
        "over_cap": count > cap,
        "form": form,
        "option_fields": [form[name] for name in ("data_dictionary", "sort_columns", "simplified")],
        "shown_headings": [
            c.heading for c in dataset_for(name, request.user, filters, display=True).columns
        ],
        "select_across": select_across,
        "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/exports/export_options.html", context)
