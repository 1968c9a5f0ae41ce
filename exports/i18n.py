"""Which language a background export speaks.

The worker has no request, so the accept paths record the requester's language with the
export (options["language"], next to the site URL: see `exports.delivery.links.with_site_url`;
left out when it is settings.LANGUAGE_CODE)
and the worker writes headings, sheet names, notes and e-mails inside `translation.override`
of it. An export that never saw a request (the `export` command, an older row) and a schedule
whose saved export recorded none speak settings.LANGUAGE_CODE: Django keeps no language per
user.
"""

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy

LANGUAGE_OPTION = "language"


def language_option() -> dict[str, str]:
    """{"language": ...} for the language the request is answered in (LocaleMiddleware chose
    it); nothing for the site's own, which is what an export without one is written in."""
    current = translation.get_language() or settings.LANGUAGE_CODE
    return {} if current == settings.LANGUAGE_CODE else {LANGUAGE_OPTION: current}


def language_of(options: Mapping[str, Any] | None) -> str:
    """The recorded language when it is one the site offers, else the site's own."""
    wanted = (options or {}).get(LANGUAGE_OPTION)
    if isinstance(wanted, str) and wanted:
        try:
            return translation.get_supported_language_variant(wanted)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def speaking(options: Mapping[str, Any] | None) -> AbstractContextManager[None]:
    """Everything inside is written in the export's language."""
    return translation.override(language_of(options))


def _format(message: str, values: Mapping[str, Any]) -> str:
    return str(message) % values


_format_lazy = lazy(_format, str)


def later(message: str, **values: Any) -> str:
    """`message % values` (message from gettext_lazy), put into words only when it is read: an
    exception's text is then English in the log (written under translation.override(None))
    and the reader's language on their page, in the API's answer or on the audit row."""
    return _format_lazy(message, values)
