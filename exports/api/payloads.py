"""What the API reads (query strings, JSON bodies) and what it answers (public JSON shapes).

Everything a caller sends is checked here against an allow-list, and anything unknown is a
400 that names it: a misspelt parameter is never silently dropped.
"""

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils.translation import gettext

from exports.api.problems import ApiError
from exports.clock import aware, midnight, stored
from exports.conf import app_settings
from exports.datasets import capture
from exports.datasets.base import Dataset
from exports.datasets.conditions import (
    MAX_DEPTH,
    OPERATORS,
    ConditionError,
    date_time_problem,
    day_problem,
    to_q,
)
from exports.datasets.registry import registry
from exports.delivery.links import without_site_url
from exports.engine.pipeline import file_options
from exports.formats import WRITERS
from exports.models import PENDING, Delivery, ExportAudit, ExportStatus

# Seed 000's filters: a date range on `created`, and the game/task a row belongs to.
SHORTCUTS = {"from": "created", "to": "created", "game": "game", "task": "task"}
# The file's options: the zone times are written in; for CSV the delimiter and a BOM.
FILE_OPTIONS = ("time_zone", "delimiter", "bom")
QUERY_PARAMS = {"format", "filter", "limit", *SHORTCUTS, *FILE_OPTIONS}
BODY_KEYS = {"dataset", "format", "filters", "options", "delivery", "lifetime"}
FILTER_KEYS = {"conditions", "limit", *SHORTCUTS}
FLAG_OPTIONS = ("data_dictionary", "sort_columns", "simplified")
API_DELIVERIES = (Delivery.BACKGROUND, Delivery.EMAIL)
# ASCII digits only: int() also reads '１０', '١٠', '1_0' and ' 10 '. 18 digits stay in 64 bits.
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")
LARGEST_ID = 2**63 - 1  # a bigint column's largest value; SQLite cannot even bind more


@dataclass
class ExportRequest:
    dataset: str
    format: str
    filters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    delivery: str = Delivery.BACKGROUND


def declared_dataset(name: str, status: int = 404) -> Dataset:
    """Only datasets declared in code are served: never an admin changelist source."""
    if name not in registry:
        detail = gettext("Unknown dataset %(name)s; GET datasets/ lists those you may export.") % {
            "name": repr(name)
        }
        raise ApiError(status, detail, "unknown_dataset")
    return registry.get(name)


# -- reading ---------------------------------------------------------------------------------


def immediate_request(
    params: QueryDict, dataset: Dataset
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """`?format=csv&filter=<JSON>&limit=N&from=…&to=…&game=…&task=…&time_zone=…&delimiter=…
    &bom=true` -> (format, filters, options)."""
    unknown = sorted(set(params) - QUERY_PARAMS)
    if unknown:
        allowed = ", ".join(sorted(QUERY_PARAMS))
        text = gettext("Unknown query parameter %(name)s; allowed: %(allowed)s.")
        raise ApiError(400, text % {"name": repr(unknown[0]), "allowed": allowed})
    for name in params:
        if len(params.getlist(name)) > 1:
            text = gettext("Query parameter %(name)s is given more than once.")
            raise ApiError(400, text % {"name": repr(name)})
    conditions = None
    if "filter" in params:
        conditions = parse_json(params["filter"], gettext("The filter parameter"))
    shortcuts = {k: params[k] for k in SHORTCUTS if k in params}
    filters = build_filters(
        dataset, conditions, shortcuts, params.get("limit"), app_settings.MAX_ROWS_IMMEDIATE
    )
    fmt = params.get("format", "csv")
    bom = params.get("bom", "false")
    if bom not in ("true", "false"):
        raise ApiError(400, gettext("Query parameter 'bom' must be true or false."))
    options = checked_file_options(fmt, params.get("time_zone"), params.get("delimiter"), bom)
    return fmt, filters, options


def export_request(request: HttpRequest) -> ExportRequest:
    """The JSON body of POST exports/."""
    if request.content_type != "application/json":
        detail = gettext("Send the export as a JSON object (Content-Type: application/json).")
        raise ApiError(415, detail)
    limit = app_settings.API_MAX_BODY_BYTES
    raw = request.read(limit + 1)  # bounded even when no Content-Length announced the size
    if len(raw) > limit:
        detail = gettext("The request body is over %(limit)s bytes.") % {"limit": limit}
        raise ApiError(413, detail, "too_large")
    what = gettext("The request body")
    body = expect(parse_json(raw, what, "bad_json"), dict, what)
    refuse_unknown(body, BODY_KEYS, gettext("field"))
    if "dataset" not in body:
        raise ApiError(400, gettext("The request body needs a 'dataset'."))
    dataset = declared_dataset(expect(body["dataset"], str, "'dataset'"), status=400)
    filters = expect(body.get("filters", {}), dict, "'filters'")
    refuse_unknown(filters, FILTER_KEYS, gettext("filters key"))
    shortcuts = {k: filters[k] for k in SHORTCUTS if k in filters}
    cap = app_settings.MAX_ROWS_BACKGROUND
    delivery = body.get("delivery", Delivery.BACKGROUND)
    if delivery not in API_DELIVERIES:
        text = gettext(
            "Unknown delivery %(delivery)s; use background or email (for an immediate "
            "download, GET the dataset's own URL)."
        )
        raise ApiError(400, text % {"delivery": repr(delivery)})
    fmt = expect(body.get("format", "csv"), str, "'format'")
    return ExportRequest(
        dataset=dataset.name,
        format=fmt,
        filters=build_filters(
            dataset, filters.get("conditions"), shortcuts, filters.get("limit"), cap
        ),
        options=export_options(body.get("options", {}), body.get("lifetime"), fmt),
        delivery=delivery,
    )


def parse_json(text: str | bytes, what: str, code: str = "") -> Any:
    """json.loads, whose other failures (ValueError for an integer of more than 4,300 digits,
    RecursionError for nesting about a thousand deep) are a 400 too."""
    try:
        return json.loads(text)
    except RecursionError:
        text = gettext(
            "%(what)s is nested too deeply: conditions may have at most %(depth)s levels."
        )
        detail = text % {"what": what, "depth": MAX_DEPTH}
        raise ApiError(400, detail, code) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError among them
        detail = gettext("%(what)s is not valid JSON: %(error)s.") % {"what": what, "error": exc}
        raise ApiError(400, detail, code) from None


def expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        texts = {
            dict: gettext("%(what)s must be an object."),
            str: gettext("%(what)s must be a string."),
            list: gettext("%(what)s must be a list."),
            bool: gettext("%(what)s must be true or false."),
        }
        raise ApiError(400, texts[kind] % {"what": what})
    return value


def refuse_unknown(given: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        text = gettext("Unknown %(what)s %(name)s; allowed: %(allowed)s.")
        names = ", ".join(sorted(allowed))
        raise ApiError(400, text % {"what": what, "name": repr(unknown[0]), "allowed": names})


def export_options(options: Any, lifetime: Any, fmt: str) -> dict[str, Any]:
    options = dict(expect(options, dict, "'options'"))
    refuse_unknown(options, {*FLAG_OPTIONS, *FILE_OPTIONS, "columns"}, gettext("option"))
    for name in FLAG_OPTIONS:
        what = gettext("Option %(name)s") % {"name": repr(name)}
        if name in options and not expect(options[name], bool, what):
            del options[name]  # false is the default; keep duplicates comparable
    zone, delimiter = options.pop("time_zone", None), options.pop("delimiter", None)
    if zone is not None:
        expect(zone, str, gettext("Option %(name)s") % {"name": "'time_zone'"})
    if delimiter is not None:
        expect(delimiter, str, gettext("Option %(name)s") % {"name": "'delimiter'"})
    bom = expect(options.pop("bom", False), bool, gettext("Option %(name)s") % {"name": "'bom'"})
    options.update(checked_file_options(fmt, zone, delimiter, bom))
    if "columns" in options:
        columns = expect(
            options["columns"], list, gettext("Option %(name)s") % {"name": "'columns'"}
        )
        if not columns or not all(isinstance(c, str) for c in columns):
            detail = gettext("Option 'columns' must be a non-empty list of column names.")
            raise ApiError(400, detail)
    if lifetime is not None:
        longest = int(app_settings.MAX_FILE_LIFETIME.total_seconds())
        if not isinstance(lifetime, int) or isinstance(lifetime, bool):
            raise ApiError(400, gettext("'lifetime' must be a whole number of seconds."))
        if not 60 <= lifetime <= longest:
            detail = gettext("'lifetime' must be between 60 and %(longest)s seconds.")
            raise ApiError(400, detail % {"longest": longest})
        options["lifetime"] = lifetime
    return options


def checked_file_options(
    fmt: str, zone: str | None, delimiter: str | None, bom: bool | str
) -> dict[str, Any]:
    """The zone (default: the one active for this request, recorded so the worker writes
    the same) and the CSV options, or a 400 that says what is wrong."""
    try:
        return file_options(fmt, zone, delimiter, bom in (True, "true"))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def build_filters(
    dataset: Dataset, conditions: Any, shortcuts: dict[str, Any], limit: Any, cap: int
) -> dict[str, Any]:
    """The audit row's `filters`: {"conditions": …, "limit": N}, checked down to the values."""
    conditions = merge(conditions, shortcut_conditions(dataset, shortcuts))
    check_conditions(dataset, conditions)
    filters: dict[str, Any] = {"conditions": conditions} if conditions not in (None, {}) else {}
    if limit is not None:
        filters["limit"] = parse_limit(limit, cap)
    return filters


def whole_number(value: Any) -> int | None:
    """A JSON integer, or a string of ASCII digits; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value):
        return int(value)
    return None


def parse_limit(value: Any, cap: int) -> int:
    limit = whole_number(value)
    if limit is None or not 1 <= limit <= cap:
        raise ApiError(
            400, gettext("'limit' must be a whole number from 1 to %(cap)s.") % {"cap": cap}
        )
    return limit


def shortcut_conditions(dataset: Dataset, given: dict[str, Any]) -> dict[str, Any]:
    """from/to are dates (both days included, in the site's time zone); game/task are ids."""
    conditions: dict[str, Any] = {}
    for name, value in given.items():
        target = SHORTCUTS[name]
        if target not in dataset.filters:
            text = gettext("Dataset %(dataset)s cannot be filtered by %(name)s.")
            raise ConditionError(text % {"dataset": repr(dataset.name), "name": repr(name)})
        if name in ("from", "to"):
            day = parse_day(name, value)
            bound = ("ge", day) if name == "from" else ("lt", day + timedelta(days=1))
            conditions.setdefault(target, {})[bound[0]] = start_of(bound[1])
        else:
            conditions[target] = parse_id(name, value)
    return conditions


def parse_day(name: str, value: Any) -> date:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        text = gettext("Filter %(name)s must be a date like 2026-06-09.")
        raise ConditionError(text % {"name": repr(name)}) from None
    problem = day_problem(day)
    if problem:
        text = gettext("Filter %(name)s: %(problem)s.")
        raise ConditionError(text % {"name": repr(name), "problem": problem})
    return day


def parse_id(name: str, value: Any) -> int:
    number = whole_number(value)
    if number is None or not 0 <= number <= LARGEST_ID:
        text = gettext("Filter %(name)s must be a whole number (an id).")
        raise ConditionError(text % {"name": repr(name)})
    return number


def start_of(day: date) -> str:
    return midnight(day).isoformat()


def merge(conditions: Any, extra: dict[str, Any]) -> Any:
    """AND the shortcuts into the conditions (into every branch of an OR list)."""
    if not extra:
        return conditions
    if conditions is None or conditions == {}:
        return extra
    branches = conditions if isinstance(conditions, list) else [conditions]
    merged = []
    for branch in branches:
        if not isinstance(branch, dict):
            raise ConditionError(gettext("Conditions must be an object or a list of objects."))
        twice = sorted(set(branch) & set(extra))
        if twice:
            text = gettext("Filter %(name)s is given both in the filter and directly.")
            raise ConditionError(text % {"name": repr(twice[0])})
        merged.append({**branch, **extra})
    return merged if isinstance(conditions, list) else merged[0]


def check_conditions(dataset: Dataset, conditions: Any) -> None:
    """Field names against the allow-list, then each value against its field's type, so a
    bad value is a 400 naming the filter rather than an error in the middle of a stream."""
    to_q(conditions, dataset.filters)
    branches = conditions if isinstance(conditions, list) else [conditions or {}]
    queryset = dataset.get_queryset()
    for branch in branches:
        for name, value in branch.items():
            try:
                check_parameters(name, queryset.filter(to_q({name: value}, dataset.filters)))
            except ValidationError as exc:
                text = gettext("Filter %(name)s: %(problem)s")
                problem = " ".join(exc.messages)
                raise ConditionError(text % {"name": repr(name), "problem": problem}) from None
            except (ValueError, TypeError, ArithmeticError) as exc:  # OverflowError among them
                text = gettext("Filter %(name)s: %(problem)s")
                raise ConditionError(text % {"name": repr(name), "problem": exc}) from None


def check_parameters(name: str, queryset: QuerySet) -> None:
    """The values as the database would be sent them, converted by each field (a string of
    digits becomes an int for an integer field only): SQLite cannot bind an integer past 64
    bits, so neither backend is sent one."""
    try:
        _sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    except (EmptyResultSet, FullResultSet):  # Django already knows: nothing or all matches
        return
    for param in params:
        if isinstance(param, int) and not -LARGEST_ID - 1 <= param <= LARGEST_ID:
            text = gettext("Filter %(name)s: a number is past the 64-bit range.")
            raise ConditionError(text % {"name": repr(name)})


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The cursor's time as the database compares it (naive with USE_TZ = False)."""
    refused = ApiError(400, gettext("The 'before' cursor is not one this API gave out."))
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, pk = text.partition("|")
        moment, key = datetime.fromisoformat(when), uuid.UUID(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    if date_time_problem(moment):  # an offset no zone has, or a day at the calendar's end
        raise refused
    return stored(moment), key


# -- answering -------------------------------------------------------------------------------


def encode_cursor(audit: ExportAudit) -> str:
    text = f"{audit.queued_at.isoformat()}|{audit.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def dataset_json(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "title": dataset.title,
        "description": dataset.description,
        "columns": [
            {
                "name": c.name,
                "heading": str(c.heading),
                "type": c.kind,
                "description": c.description,
            }
            for c in dataset.columns
        ],
        "filters": [{"name": name, "operators": OPERATORS} for name in sorted(dataset.filters)],
        "shortcuts": [name for name, target in SHORTCUTS.items() if target in dataset.filters],
        "formats": [{"name": key, "title": title} for key, (title, _) in WRITERS.items()],
    }


def instant(value: datetime | None) -> datetime | None:
    """With its UTC offset, as the schema's date-time promises, also under USE_TZ = False."""
    return None if value is None else aware(value)


def export_json(audit: ExportAudit, request: HttpRequest) -> dict[str, Any]:
    """Public fields only: the requester appears as its display string, never as an id."""

    def url(name: str, *args: Any) -> str:
        return request.build_absolute_uri(reverse(f"exports_api:{name}", args=args))

    file = getattr(audit, "download", None) if audit.status == ExportStatus.COMPLETED else None
    return {
        "id": str(audit.pk),
        "dataset": audit.dataset,
        "format": audit.format,
        "delivery": audit.delivery,
        "status": audit.status,
        "requested_by": audit.requested_by_display,
        "filters": capture.shown(audit.filters),
        "options": without_site_url(audit.options),
        "rows_written": audit.row_count,
        "rows_expected": audit.rows_expected,
        "percent": audit.progress_percent,
        "bytes": audit.bytes,
        "error": audit.error,
        "notes": audit.notes,
        "queued_at": instant(audit.queued_at),
        "started_at": instant(audit.started_at),
        "finished_at": instant(audit.finished_at),
        "url": url("export", audit.pk),
        "cancel_url": url("cancel", audit.pk) if audit.status in PENDING else None,
        "file": {
            "filename": file.filename,
            "content_type": file.content_type,
            "size": file.size,
            "created_at": instant(file.created_at),
            "expires_at": instant(file.expires_at),
            "url": url("file", audit.pk),
        }
        if file
        else None,
    }
