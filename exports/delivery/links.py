"""Where the links in e-mails point: EXPORTS_SITE_URL when the host sets it, else the scheme
and host of the request that asked for the export.

An e-mail is written by the worker, which has no request, so the accept paths record the
request's site URL on the audit row (options["site_url"], see `with_site_url`); a changelist
export also keeps the request's scheme and host in filters["request"]. An export that never
saw a request (a schedule of a dataset, the `export` command) links to the site URL that the
latest export recorded.
"""

import logging
import re
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from exports.conf import app_settings
from exports.i18n import LANGUAGE_OPTION, language_option
from exports.models import ExportAudit

log = logging.getLogger(__name__)

SITE_URL_OPTION = "site_url"
# Only when nothing ever recorded a request: a link that names the path, at least.
LAST_RESORT = "http://localhost"
# A host name or IP literal with an optional port, as Django's request.get_host() accepts it.
HOST = re.compile(r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:[0-9]+)?", re.IGNORECASE)


def site_url_of(request: HttpRequest) -> str:
    """`scheme://host[:port]` as Django sees the request (so SECURE_PROXY_SSL_HEADER and
    USE_X_FORWARDED_HOST apply; get_host() has checked ALLOWED_HOSTS)."""
    return f"{request.scheme}://{request.get_host()}"


def with_site_url(options: dict[str, Any], request: HttpRequest) -> dict[str, Any]:
    """The export's options plus the site URL its e-mails will link to and the language the
    request was answered in, which its file and e-mails are written in (exports.i18n)."""
    return {**options, SITE_URL_OPTION: site_url_of(request), **language_option()}


def without_site_url(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options a person chose, for the API to show: where links go and the language the
    request spoke are no options of theirs."""
    private = (SITE_URL_OPTION, LANGUAGE_OPTION)
    return {k: v for k, v in options.items() if k not in private}


def link_base(audit: ExportAudit) -> str:
    """`scheme://host` for the links in this export's e-mails (no trailing slash)."""
    return base_for(audit.options, audit.filters)


def base_for(options: Mapping[str, Any] | None, filters: Mapping[str, Any] | None) -> str:
    """The same, for a definition (a saved export) rather than an audit row."""
    configured = app_settings.SITE_URL
    if configured:
        return str(configured).rstrip("/")
    found = recorded(options, filters) or latest_recorded()
    if found:
        return found
    log.warning("exports: no request has shown the site's address yet; set EXPORTS_SITE_URL")
    return LAST_RESORT


def recorded(options: Mapping[str, Any] | None, filters: Mapping[str, Any] | None) -> str:
    """The site URL an accept path recorded, else the one in a changelist's request context;
    "" when neither is there or neither is a plain http(s) URL of a host."""
    site_url = (options or {}).get(SITE_URL_OPTION)
    if isinstance(site_url, str) and "://" in site_url:
        scheme, host = site_url.rstrip("/").split("://", 1)
        return checked(scheme, host)
    context = (filters or {}).get("request")
    if not isinstance(context, Mapping):
        return ""
    meta = context.get("meta") or {}
    host = meta.get("HTTP_HOST") or server_host(meta)
    return checked(str(context.get("scheme", "http")), str(host or ""))


def server_host(meta: Mapping[str, Any]) -> str:
    """HTTP_HOST's stand-in, as Django builds it (port 80/443 left out)."""
    name, port = meta.get("SERVER_NAME"), str(meta.get("SERVER_PORT", ""))
    if not name:
        return ""
    return name if port in ("", "80", "443") else f"{name}:{port}"


def checked(scheme: str, host: str) -> str:
    """`scheme://host`, or "" for anything that is not one (a path, a userinfo, a space)."""
    if scheme not in ("http", "https") or not HOST.fullmatch(host):
        return ""
    return f"{scheme}://{host}"


def latest_recorded() -> str:
    """The site URL of the latest export whose request recorded one."""
    options = (
        ExportAudit.objects.filter(options__has_key=SITE_URL_OPTION)
        .order_by("-queued_at")
        .values_list("options", flat=True)
        .first()
    )
    return recorded(options, None) if options else ""
