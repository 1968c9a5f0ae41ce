"""“Save this export as…” on the options page and the Datasets page."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from exports.datasets.conditions import ConditionError
from exports.delivery.links import with_site_url
from exports.formats import MissingDependency
from exports.scheduling.saved import NotSavable, save_definition

NAME_FIELD = "save_as_name"
BUTTON = "save_as"


def wants_saving(request: HttpRequest) -> bool:
    return BUTTON in request.POST


def save_as(
    request: HttpRequest, dataset: str, fmt: str, filters: dict[str, Any], options: dict[str, Any]
) -> HttpResponse | None:
    """The saved export's page on success; None (with a message) when it cannot be saved."""
    name = request.POST.get(NAME_FIELD, "")
    try:
        options = with_site_url(options, request)
        saved = save_definition(request.user, name, dataset, fmt, filters, options)
    except (NotSavable, ConditionError, LookupError, PermissionDenied, MissingDependency) as exc:
        messages.error(request, _("Not saved: %(reason)s") % {"reason": exc})
        return None
    page = reverse("admin:exports_savedexport_change", args=[saved.pk])
    text = _('Saved as “{}”. <a href="{}">Share it or add a schedule</a>.')
    messages.success(request, format_html(text, saved.name, page))
    return HttpResponseRedirect(page)
