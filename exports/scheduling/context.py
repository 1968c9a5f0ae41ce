"""Whose request a saved changelist is replayed with.

A saved export keeps the request context of the page it was saved from (filters["request"],
see datasets.replay): the admin site, and what belongs to its author there: the path, the host
they asked on and the middleware attributes (`tenant`, `site`) a ModelAdmin may scope rows by.
Only the author's own runs replay all of it. Anyone else (a group the export is shared with, a
schedule's recipient) runs in their own context: the live request they clicked Run now on;
where there is none (a schedule's delivery), the admin site and scheme alone, which the host's
EXPORTS_PREPARE_REQUEST may complete for that person. An admin that cannot list rows without
the author's attributes refuses such a run, with the reason.
"""

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from exports.datasets.replay import DEFAULT_SITE, request_context

KEY = "request"  # in an export's filters
AUTHORS_OWN = ("path", "meta", "attrs")


def for_runner(
    filters: Mapping[str, Any], author_id, runner, request: HttpRequest | None = None
) -> dict[str, Any]:
    """`filters` to run as `runner`: the author's context for the author, else the runner's
    (from `request`, on the saved admin site) or none of the author's."""
    saved = filters.get(KEY)
    if not isinstance(saved, Mapping) or runner.pk == author_id:
        return dict(filters)
    site = saved.get("site", DEFAULT_SITE)
    if request is not None:
        context = request_context(request, site)
    else:
        context = {k: v for k, v in saved.items() if k not in AUTHORS_OWN}
    return {**filters, KEY: context}


def left_out(filters: Mapping[str, Any], runner_filters: Mapping[str, Any]) -> list[str]:
    """What of the author's context a run without a request left out, for a message: the
    attribute names and "host"."""
    saved, used = filters.get(KEY), runner_filters.get(KEY)
    if not isinstance(saved, Mapping) or used == saved:
        return []
    names = [name for name in saved.get("attrs", {}) if name not in (used or {}).get("attrs", {})]
    if saved.get("meta") and not (used or {}).get("meta"):
        names.append("host")
    return names
