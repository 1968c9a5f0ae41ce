"""The OpenAPI 3.1 description of the API, built as a dict for the mount point it is served at.

Kept by hand next to the views it describes; tests validate the document and check every
response they receive against it.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from exports.conf import app_settings
from exports.datasets.conditions import MAX_DEPTH, OPERATORS
from exports.formats import WRITERS, MissingDependency, get_writer

JSON = "application/json"
PROBLEM = "application/problem+json"
DATE = {"type": "string", "format": "date"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def json_body(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def problems(*statuses: int) -> dict[str, Any]:
    """Every operation that needs a caller can also answer 401 and 429."""
    text = {
        400: "The request is not valid (the detail names the parameter or filter).",
        401: "No credentials, or a token that is unknown, revoked, expired or whose user is "
        "inactive.",
        403: "Not allowed: no export permission for this dataset, or a failed CSRF check on a "
        "session request.",
        404: "No such dataset, export or endpoint (another user's export included).",
        405: "Method not allowed.",
        409: "Not possible in the export's current state, or a limit was reached.",
        410: "The file has expired or was deleted.",
        413: f"The request body is over {app_settings.API_MAX_BODY_BYTES} bytes.",
        415: "The request body is not JSON.",
        422: "More rows than an immediate download may hold.",
        429: "Too many requests (per token, or per user for session calls), or too many "
        "downloads (per user, web and API together); wait for Retry-After seconds.",
        503: "A library this format needs is not installed.",
    }
    headers = {
        401: {"WWW-Authenticate": header("The Bearer challenge (RFC 6750).")},
        405: {"Allow": header("The methods this endpoint accepts.")},
        429: {"Retry-After": header("Seconds to wait.", "integer")},
    }
    answers = {}
    for status in sorted({*statuses, 401, 429}):
        answer: dict[str, Any] = {
            "description": text[status],
            "content": {PROBLEM: {"schema": ref("Problem")}},
        }
        if status in headers:
            answer["headers"] = headers[status]
        answers[str(status)] = answer
    return answers


def header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": kind}}


def file_types() -> dict[str, Any]:
    """The media types the installed formats produce (bodies are files: no schema)."""
    types = set()
    for fmt in WRITERS:
        try:
            types.add(get_writer(fmt).content_type)
        except MissingDependency:
            continue
    return {media_type: {} for media_type in sorted(types)}


def id_parameter() -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }


TIME_ZONE_HELP = (
    "IANA zone the file's times are written in (UTC, Europe/Paris...); default: the site's."
)
DELIMITER = {"enum": ["comma", "semicolon", "tab"], "default": "comma"}
BOOLEANS = ["true", "false"]


def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def paths() -> dict[str, Any]:
    export = json_body(ref("Export"), "The export.")
    return {
        "/datasets/": {
            "get": {
                "operationId": "listDatasets",
                "summary": "The datasets you may export, with columns, filters and formats.",
                "responses": {
                    "200": json_body(ref("DatasetList"), "The datasets."),
                    **problems(),
                },
            }
        },
        "/{dataset}/": {
            "get": {
                "operationId": "exportNow",
                "summary": "Stream an export now (audited before the first byte).",
                "description": (
                    f"At most EXPORTS_MAX_ROWS_IMMEDIATE ({app_settings.MAX_ROWS_IMMEDIATE}) "
                    "rows. If the export fails part way the connection is cut: a truncated "
                    "body never ends like a complete one."
                ),
                "parameters": [
                    {
                        "name": "dataset",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    query("format", "A format name from /datasets/.", {"type": "string"}),
                    query(
                        "filter",
                        'Conditions as JSON, e.g. {"points": {"ge": 10}}; at most '
                        f"{MAX_DEPTH} levels of objects and lists.",
                        {"type": "string"},
                    ),
                    query("limit", "At most this many rows.", {"type": "integer", "minimum": 1}),
                    query("from", "Created on or after this day.", DATE),
                    query("to", "Created on or before this day.", DATE),
                    query("game", "Rows of this game (id).", {"type": "integer"}),
                    query("task", "Rows of this task (id).", {"type": "integer"}),
                    query("time_zone", TIME_ZONE_HELP, {"type": "string"}),
                    query("delimiter", "CSV only.", DELIMITER),
                    query("bom", "CSV only: UTF-8 with BOM (for Excel).", {"enum": BOOLEANS}),
                ],
                "responses": {
                    "200": {
                        "description": "The file, streamed as it is written.",
                        "headers": {
                            "Content-Disposition": header("attachment; filename=…"),
                            "X-Export-Id": header("The audit row's id (see /history/)."),
                        },
                        "content": file_types(),
                    },
                    **problems(400, 403, 404, 422, 503),
                },
            }
        },
        "/exports/": {
            "post": {
                "operationId": "startExport",
                "summary": "Queue a background export.",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref("ExportRequest")}},
                },
                "responses": {
                    "202": json_body(
                        ref("ExportAccepted"),
                        "Queued; poll `url`.",
                        headers={"Location": header("The export's status URL.")},
                    ),
                    "200": json_body(
                        ref("ExportAccepted"),
                        "The same export was already pending: that one (duplicate: true).",
                        headers={"Location": header("The export's status URL.")},
                    ),
                    **problems(400, 403, 409, 413, 415, 503),
                },
            }
        },
        "/exports/{id}/": {
            "parameters": [id_parameter()],
            "get": {
                "operationId": "getExport",
                "summary": "Status and progress of one of your exports.",
                "responses": {"200": export, **problems(404)},
            },
        },
        "/exports/{id}/cancel/": {
            "parameters": [id_parameter()],
            "post": {
                "operationId": "cancelExport",
                "summary": "Cancel a queued or running export.",
                "responses": {"200": export, **problems(403, 404, 409)},
            },
        },
        "/exports/{id}/file": {
            "parameters": [id_parameter()],
            "get": {
                "operationId": "downloadExport",
                "summary": "The finished file (owner and expiry checked on every request).",
                "responses": {
                    "200": {"description": "The file.", "content": file_types()},
                    "302": {
                        "description": "Object storage: a short-lived presigned URL.",
                        "headers": {"Location": header("The presigned URL.")},
                    },
                    **problems(404, 409, 410),
                },
            },
            "delete": {
                "operationId": "deleteExportFile",
                "summary": "Delete the file now (the audit row stays).",
                "responses": {"204": {"description": "Deleted."}, **problems(403, 404, 409)},
            },
        },
        "/history/": {
            "get": {
                "operationId": "history",
                "summary": "Your exports, newest first, a page at a time.",
                "parameters": [
                    query(
                        "limit",
                        "Rows per page.",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": app_settings.API_HISTORY_MAX_LIMIT,
                            "default": 50,
                        },
                    ),
                    query("before", "The `next` cursor of the previous page.", {"type": "string"}),
                ],
                "responses": {"200": json_body(ref("History"), "One page."), **problems(400)},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "security": [],
                "responses": {"200": json_body({"type": "object"}, "OpenAPI 3.1.")},
            }
        },
    }


def schemas() -> dict[str, Any]:
    text, integer = {"type": "string"}, {"type": "integer"}
    when = {"type": "string", "format": "date-time"}
    conditions = {
        "description": "An object (AND) or a list of objects (OR): "
        '{"field": value | [values] | {"op": value}}; operators: '
        + ", ".join(OPERATORS)
        + f"; at most {MAX_DEPTH} levels of objects and lists.",
        "anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
    }
    filters = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "conditions": conditions,
            "limit": {"type": "integer", "minimum": 1},
            "from": DATE,
            "to": DATE,
            "game": integer,
            "task": integer,
        },
    }
    export_file = {
        "type": "object",
        "required": ["filename", "content_type", "size", "created_at", "expires_at", "url"],
        "properties": {
            "filename": text,
            "content_type": text,
            "size": integer,
            "created_at": when,
            "expires_at": when,
            "url": {"type": "string", "format": "uri"},
        },
    }
    export_properties = {
        "id": {"type": "string", "format": "uuid"},
        "dataset": text,
        "format": text,
        "delivery": {"enum": ["background", "immediate", "email"]},
        "status": {"enum": ["queued", "running", "completed", "failed", "cancelled"]},
        "requested_by": text,
        "filters": {"type": "object"},
        "options": {"type": "object"},
        "rows_written": integer,
        "rows_expected": nullable(integer),
        "percent": nullable(integer),
        "bytes": integer,
        "error": text,
        "notes": text,
        "queued_at": when,
        "started_at": nullable(when),
        "finished_at": nullable(when),
        "url": {"type": "string", "format": "uri"},
        "cancel_url": nullable({"type": "string", "format": "uri"}),
        "file": nullable(ref("ExportFile")),
    }
    export = {
        "type": "object",
        "required": list(export_properties),
        "additionalProperties": False,
        "properties": export_properties,
    }
    return {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": text,
                "title": text,
                "status": integer,
                "detail": text,
                "code": text,
                "instance": text,
            },
        },
        "Column": {
            "type": "object",
            "required": ["name", "heading", "type", "description"],
            "properties": {"name": text, "heading": text, "type": text, "description": text},
        },
        "Dataset": {
            "type": "object",
            "required": ["name", "title", "columns", "filters", "shortcuts", "formats"],
            "properties": {
                "name": text,
                "title": text,
                "description": text,
                "columns": {"type": "array", "items": ref("Column")},
                "filters": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "operators"],
                        "properties": {
                            "name": text,
                            "operators": {"type": "array", "items": text},
                        },
                    },
                },
                "shortcuts": {"type": "array", "items": text},
                "formats": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "title"],
                        "properties": {"name": text, "title": text},
                    },
                },
            },
        },
        "DatasetList": {
            "type": "object",
            "required": ["datasets"],
            "properties": {"datasets": {"type": "array", "items": ref("Dataset")}},
        },
        "ExportRequest": {
            "type": "object",
            "required": ["dataset"],
            "additionalProperties": False,
            "properties": {
                "dataset": text,
                "format": {**text, "default": "csv"},
                "filters": filters,
                "options": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "data_dictionary": {"type": "boolean"},
                        "sort_columns": {"type": "boolean"},
                        "simplified": {"type": "boolean"},
                        "columns": {"type": "array", "items": text, "minItems": 1},
                        "time_zone": {**text, "description": TIME_ZONE_HELP},
                        "delimiter": {**DELIMITER, "description": "CSV only."},
                        "bom": {
                            "type": "boolean",
                            "description": "CSV only: UTF-8 with BOM (for Excel).",
                        },
                    },
                },
                "delivery": {"enum": ["background", "email"], "default": "background"},
                "lifetime": {
                    "type": "integer",
                    "minimum": 60,
                    "description": "Seconds the file stays downloadable (at most the default).",
                },
            },
        },
        "ExportFile": export_file,
        "Export": export,
        "ExportAccepted": {
            "type": "object",
            "required": [*export_properties, "duplicate"],
            "additionalProperties": False,
            "properties": {**export_properties, "duplicate": {"type": "boolean"}},
        },
        "History": {
            "type": "object",
            "required": ["results", "next", "next_url"],
            "properties": {
                "results": {"type": "array", "items": ref("Export")},
                "next": nullable(text),
                "next_url": nullable({"type": "string", "format": "uri"}),
            },
        },
    }


def document(request: HttpRequest) -> dict[str, Any]:
    base = reverse("exports_api:openapi").removesuffix("/openapi.json")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Exportdesk exports API",
            "version": "1",
            "description": (
                "Datasets as CSV, JSON, XLSX and more: streamed now, or exported in the "
                "background and fetched later. Authenticate with `Authorization: Bearer "
                "<token>` (a personal token from the API tokens page). Errors are RFC 9457 "
                "problem details."
            ),
        },
        "servers": [{"url": request.build_absolute_uri(base)}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "exd_<prefix>_<secret>",
                },
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": settings.SESSION_COOKIE_NAME,
                    "description": "A logged-in browser; unsafe methods need the CSRF header.",
                },
            },
            "schemas": schemas(),
        },
    }
