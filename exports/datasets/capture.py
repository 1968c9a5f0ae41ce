"""The rows a changelist shows, captured in the request where the user clicked.

A changelist is a function of its live request: middleware that decorates `request.user`, the
session, messages, thread-locals set by `changelist_view`. A worker cannot rebuild that, so the
export action keeps what the live changelist gave: its queryset (filters, search, date
hierarchy, ordering, the admin's own `get_queryset`, narrowed to the ticked rows), the fields
the change form shows this user, and the columns `get_list_display()` gave. The queryset
travels as Django's documented pickling of `QuerySet.query`, signed with SECRET_KEY so that
nothing but this code can hand a worker a query to unpickle. The worker runs it as is and never
calls the ModelAdmin's request-dependent code for rows.
"""

import base64
import pickle
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exports.datasets.conditions import ConditionError
from exports.i18n import later

KEY = "captured"  # in an export's filters
SELECTED = "selected"  # how many rows the user chose, for the result's statement
SALT = "exports.capture"


@dataclass(frozen=True)
class Capture:
    """What the live changelist showed, as the worker needs it."""

    queryset: models.QuerySet
    fields: frozenset[str]  # the field names the admin shows this user
    display: tuple[Any, ...]  # get_list_display()'s entries, resolved again in the worker


def dumps(queryset: models.QuerySet, fields: set[str], display: Sequence[Any]) -> str:
    """Signed text for an export's filters. Raises ConditionError when the changelist's query
    cannot be kept (a host queryset holding something that does not pickle)."""
    try:
        query = base64.b64encode(pickle.dumps(queryset.query)).decode()
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        text = gettext_lazy(
            "This changelist's rows cannot be kept for a background export (%(error)s); "
            "choose immediate delivery."
        )
        raise ConditionError(later(text, error=exc)) from exc
    payload = {
        "query": query,
        "db": queryset.db,
        "fields": sorted(fields),
        "display": [display_ref(item) for item in display],
    }
    # No timestamp: the same click twice is the same export (queue_export's duplicate check).
    return signing.Signer(salt=SALT).sign_object(payload, compress=True)


def loads(text: str, model_admin: Any) -> Capture:
    """The capture back, for the ModelAdmin it came from. ConditionError when it was not made
    here (a bad signature) or no longer fits the code (a model changed since)."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(text)
    except signing.BadSignature:
        text = gettext_lazy("The export's captured rows do not carry a valid signature.")
        raise ConditionError(text) from None
    model = model_admin.model
    try:
        query = pickle.loads(base64.b64decode(payload["query"]))  # noqa: S301 - signed above
    except Exception as exc:
        text = gettext_lazy(
            "The rows captured for this export no longer fit %(model)s (%(error)s); "
            "export again from the changelist."
        )
        raise ConditionError(later(text, model=model.__name__, error=exc)) from exc
    if query.model is not model:
        raise ConditionError(gettext_lazy("The export's captured rows belong to another model."))
    queryset = model._default_manager.db_manager(payload["db"]).all()
    queryset.query = query
    display = tuple(from_display_ref(ref, model_admin) for ref in payload["display"])
    return Capture(queryset, frozenset(payload["fields"]), display)


def replayable(filters: dict[str, Any]) -> dict[str, Any]:
    """An export's filters for a run without a click (Run again, a saved export): the
    querystring and the ticked ids (still the selection), never another click's capture nor
    the count "all matching rows" had then."""
    dropped = (KEY,) if filters.get("conditions") else (KEY, SELECTED)
    return {k: v for k, v in filters.items() if k not in dropped}


def shown(filters: dict[str, Any]) -> dict[str, Any]:
    """An export's filters for people to read (the audit admin, the API): the capture is a
    signed blob, named rather than printed."""
    if KEY not in filters:
        return filters
    return {**filters, KEY: "the changelist as shown when the export was requested"}


def display_ref(item: Any) -> Any:
    """A list_display entry as JSON: a name as itself, a callable by its place in the
    ModelAdmin's `list_display` (its identity cannot travel)."""
    if isinstance(item, str):
        return item
    return {"callable": getattr(item, "__qualname__", repr(item))}


def from_display_ref(ref: Any, model_admin: Any) -> Any:
    if isinstance(ref, str):
        return ref
    for item in model_admin.list_display:
        if callable(item) and getattr(item, "__qualname__", None) == ref["callable"]:
            return item
    text = gettext_lazy(
        "The column %(column)s exists only on the live page: export it immediately or "
        "choose raw values."
    )
    raise ConditionError(later(text, column=ref["callable"]))


def selection_note(selected: int, written: int, ticked: bool) -> str:
    """The result against what the user chose: said every time, in words and numbers."""
    counts = {"written": f"{written:,}", "selected": f"{selected:,}"}
    if ticked:
        if written >= selected:
            return _("%(written)s of %(selected)s selected rows.") % counts
        text = _(
            "%(written)s of %(selected)s selected rows; %(gone)s no longer exist or no longer "
            "match the changelist."
        )
        return text % {**counts, "gone": f"{selected - written:,}"}
    if written == selected:
        return (
            _("%(written)s rows, as the changelist showed when the export was requested.") % counts
        )
    text = _(
        "%(written)s rows; the changelist showed %(selected)s when the export was requested "
        "(rows were added, changed or deleted since, or the row cap stopped it)."
    )
    return text % counts


def cells_needing_the_page(obj: models.Model | None, cells: Sequence[tuple[str, Any]]) -> list:
    """The headings of the cells that fail away from the live request, tried on one row in a
    thread of its own: the worker's situation (none of this request's thread-locals).
    `cells` are (heading, read) pairs as datasets.display builds them."""
    failing: list[str] = []
    if obj is None:
        return failing

    def probe() -> None:
        from django.db import connections

        try:
            for heading, read in cells:
                try:
                    read(obj)
                except Exception:  # any failure means "needs the page"
                    failing.append(heading)
        finally:
            connections.close_all()  # this thread's own, if a cell opened one

    thread = threading.Thread(target=probe, name="exports-probe")
    thread.start()
    thread.join()
    return failing
