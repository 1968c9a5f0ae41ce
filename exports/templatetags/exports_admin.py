"""Exportdesk's pages in the admin's own markup, whichever Django draws it, and the
`{% exports_user_link %}` a host may add to the admin's user tools (README: "In the admin").

- `{% exports_breadcrumbs label url … current %}`: the trail as the running Django's admin
  writes it (5.2: `div.breadcrumbs` with › between links; 6.1: `ol.breadcrumbs` of `li`).
- `{% exports_fieldset form _("Heading") "field" … %}`: a fieldset drawn by the admin's own
  `admin/includes/fieldset.html`, so checkbox rows, help texts and errors match each version.
- `{% exports_user_link %}`: "My downloads (N)", N the user's files ready to download.
"""

from functools import cache
from pathlib import Path

import django.contrib.admin
from django import forms, template
from django.contrib.admin import helpers
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from exports.models import DownloadFile

register = template.Library()


@cache
def breadcrumbs_are_a_list() -> bool:
    """Each Django styles only its own breadcrumbs markup; ask the admin's own base.html which
    it is rather than the version number, so a release that changes it again is followed."""
    base = Path(django.contrib.admin.__file__).parent / "templates" / "admin" / "base.html"
    return '<ol class="breadcrumbs">' in base.read_text(encoding="utf-8")


@register.inclusion_tag("admin/exports/breadcrumbs.html")
def exports_breadcrumbs(*crumbs: str) -> dict:
    """Pairs of label and URL, then the current page's label (not a link)."""
    *links, current = crumbs
    return {
        "links": list(zip(links[::2], links[1::2], strict=True)),
        "current": current,
        "as_list": breadcrumbs_are_a_list(),
    }


@register.simple_tag
def exports_fieldset(
    form: forms.Form, name: str, *fields: str, description: str = "", suffix: int = 0
) -> SafeString:
    """No field names: all the form's fields, in order (the Datasets form adds a field per
    filter). `description` is escaped unless already safe (a `blocktranslate … asvar`)."""
    fieldset = helpers.Fieldset(
        form,
        name=name,
        fields=[field for field in fields if field in form.fields] if fields else list(form.fields),
        description=conditional_escape(description) if description else None,
    )
    context = {"fieldset": fieldset, "prefix": "fieldset", "id_prefix": 0, "id_suffix": suffix}
    return render_to_string("admin/includes/fieldset.html", context)


def ready_count(user) -> int:
    """Files the user can still download: the expired ones wait for the purge."""
    return DownloadFile.objects.for_user(user).filter(expires_at__gt=timezone.now()).count()


@register.simple_tag(takes_context=True)
def exports_user_link(context) -> str:
    """One query per page, for signed-in users only (the login page has none); nothing where
    the host has not mounted exports.urls."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return ""
    try:
        url = reverse("exports:my-downloads")
    except NoReverseMatch:
        return ""
    return format_html(
        '<a class="exports-user-link" href="{}">{}</a> /',
        url,
        _("My downloads (%(count)d)") % {"count": ready_count(user)},
    )
