"""A changelist as the admin shows it: `list_display`'s columns under the changelist's headings,
each cell read as the admin reads it (django.contrib.admin.utils.lookup_field) and kept typed
where a file can do better than the admin's text:

- a foreign key is the related object's str(); a choice field its label;
- booleans (fields and `@admin.display(boolean=True)`) are real booleans, None left empty;
- numbers, dates, date-times and JSON stay what they are in raw mode: a date-time is the same
  instant, written in whatever time zone the export writes every date-time in;
- a callable's HTML (format_html, mark_safe) becomes what its reader sees (html_text): the
  visible text, trimmed, entities unescaped, icon-font glyphs left out; else the first
  aria-label/alt/title (an image-only link, a lone icon); else the link's href; else the
  image's src. Any other value is the text the admin shows; the admin's "-" is an empty cell.

Related objects are joined (select_related) or fetched a chunk at a time (prefetch_related), so
streaming N rows costs a few queries per chunk, never one per row.
"""

import functools
import html
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, time
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from django.contrib.admin.utils import NotRelationField, get_fields_from_path, label_for_field
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.utils.safestring import SafeData
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from exports.datasets.base import Column, kind_of
from exports.datasets.conditions import ConditionError
from exports.datasets.instances import instances
from exports.i18n import later

Cell = Callable[[models.Model], Any]
CHECKBOX = "action_checkbox"  # the changelist's own column, never data
MISSING = object()


def columns(
    model_admin: Any, items: Sequence[Any], is_sensitive: Callable[[str], bool]
) -> list[tuple[Column, Any]]:
    """(column, list_display entry) for the entries get_list_display() gave the user; fields
    on the deny-list are left out, as in raw mode."""
    model = model_admin.model
    found: list[tuple[Column, Any]] = []
    taken: set[str] = set()
    for item in items:
        if item == CHECKBOX:
            continue
        fields = field_path(model, item)
        if fields and is_sensitive(item):
            continue
        label, attr = label_for_field(item, model, model_admin, return_attr=True)
        column = Column(
            name=unique(column_name(item), taken),
            source=item if fields else "",  # an ORM path, or nothing the database knows
            heading=heading_text(label),
            description=str(fields[-1].help_text or "") if fields else "",
            kind=field_kind(fields, item) if fields else ("boolean" if boolean(attr) else "text"),
        )
        found.append((column, item))
    return found


def field_path(model: type[models.Model], item: Any) -> list[models.Field]:
    """The model fields a list_display name walks (`user`, `user_id`, `user__email`); [] for a
    callable, a method or a property. Generic and reverse relations are attributes to the
    admin, and so they are here."""
    if not isinstance(item, str) or item == "__str__":
        return []
    try:
        fields = get_fields_from_path(model, item)
    except (FieldDoesNotExist, NotRelationField):
        return []
    last = fields[-1]
    if last.is_relation and (
        (last.many_to_one and last.related_model is None) or last.one_to_many or not last.concrete
    ):
        return []
    return fields


def is_object(fields: Sequence[models.Field], item: str) -> bool:
    """Whether the name reads a related object (`user`), not its key (`user_id`)."""
    last = fields[-1]
    return last.is_relation and item.split("__")[-1] != last.attname


def field_kind(fields: Sequence[models.Field], item: str) -> str:
    if is_object(fields, item) or getattr(fields[-1], "flatchoices", None):
        return "text"
    return kind_of(fields[-1])


def boolean(attr: Any) -> bool:
    """The admin's test for a ticked/crossed icon: the callable's (or property's) `boolean`."""
    if isinstance(attr, property):
        return bool(getattr(attr.fget, "boolean", False))
    return bool(getattr(attr, "boolean", False))


def column_name(item: Any) -> str:
    """A name every format can carry: `__str__` -> `str`, a lambda -> `lambda`."""
    name = item if isinstance(item, str) else getattr(item, "__name__", "")
    return re.sub(r"\W+", "_", name).strip("_") or "column"


def unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def related(model: type[models.Model], items: Sequence[Any]) -> tuple[list[str], list[str]]:
    """(paths to join, paths to prefetch): the related objects the columns read."""
    joins, prefetch = [], []
    for item in items:
        fields = field_path(model, item)
        if fields:
            depth = len(fields) if is_object(fields, item) else len(fields) - 1
            if depth and all(f.many_to_one or f.one_to_one for f in fields[:depth]):
                joins.append("__".join(item.split("__")[:depth]))
        elif isinstance(item, str) and generic_relation(model, item):
            prefetch.append(item)
    return joins, prefetch


def generic_relation(model: type[models.Model], name: str) -> bool:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return bool(field.many_to_one and field.related_model is None)


def with_related(queryset: models.QuerySet, items: Sequence[Any]) -> models.QuerySet:
    """Joins the related objects the columns read; select_related() without names (what the
    changelist does for list_select_related=True) skips nullable keys, and naming some would
    drop the others, so there they are prefetched a chunk at a time instead."""
    joins, prefetch = related(queryset.model, items)
    if queryset.query.select_related is True:
        prefetch = joins + prefetch
    elif joins:
        queryset = queryset.select_related(*joins)
    return queryset.prefetch_related(*prefetch) if prefetch else queryset


def rows(
    model_admin: Any,
    queryset: models.QuerySet,
    items: Sequence[Any],
    chunk_size: int = 2000,
    headings: Sequence[str] = (),
) -> Iterator[list[Any]]:
    """Model instances a chunk at a time (prefetches run per chunk), one list per row.
    Call inside transaction.atomic() on PostgreSQL, like Dataset.rows(). A cell that fails
    is named (ConditionError), never a traceback in a failed job."""
    cells = [cell(model_admin, item) for item in items]
    names = list(headings) or [column_name(item) for item in items]
    caches = [read.seen for read in cells if isinstance(read, ObjectText)]
    for n, obj in enumerate(instances(queryset, chunk_size)):
        if caches and not n % chunk_size:  # a chunk's texts only: memory stays flat
            for seen in caches:
                seen.clear()
        try:
            row = [read(obj) for read in cells]
        except Exception:  # a missing related row (the admin shows "-"), or a failing cell
            row = [guarded(read, obj, name) for read, name in zip(cells, names, strict=True)]
        yield row


def guarded(read: Cell, obj: models.Model, name: str = "") -> Any:
    try:
        return read(obj)
    except ObjectDoesNotExist:
        return None
    except Exception as exc:
        text = gettext_lazy(
            "Column “%(column)s” could not be read (%(kind)s: %(error)s). If it needs the "
            "live page, export it immediately or choose raw values."
        )
        raise ConditionError(later(text, column=name, kind=type(exc).__name__, error=exc)) from exc


def cell(model_admin: Any, item: Any) -> Cell:
    """How one column reads an instance; chosen once per export, not per row."""
    fields = field_path(model_admin.model, item)
    if fields:
        return field_cell(fields, item)
    read = computed(model_admin, item)
    _, attr = label_for_field(item, model_admin.model, model_admin, return_attr=True)
    if boolean(attr):
        return lambda obj: None if (value := read(obj)) is None else bool(value)
    return lambda obj: as_shown(read(obj))


def field_cell(fields: Sequence[models.Field], item: str) -> Cell:
    read = attribute(item.split("__"))
    last = fields[-1]
    if is_object(fields, item):
        text = lambda obj: None if (value := read(obj)) is None else str(value)  # noqa: E731
        return ObjectText(last.attname, text) if len(fields) == 1 and last.many_to_one else text
    if getattr(last, "flatchoices", None):
        return choice_cell(read, last)
    return read


class ObjectText:
    """A foreign key's column (the related object's str()), worked out once per key within a
    chunk of rows: one key is one row of the related table in the export's snapshot, so one
    text; a changelist repeats its users, games and tasks from row to row. The first row of a
    key, a null key and any error go the admin's way (`text`)."""

    def __init__(self, attname: str, text: Cell) -> None:
        self.attname, self.text = attname, text
        self.seen: dict[Any, Any] = {}

    def __call__(self, obj: models.Model) -> Any:
        key = getattr(obj, self.attname)
        if key is None:
            return self.text(obj)
        found = self.seen.get(key, MISSING)
        if found is MISSING:
            found = self.seen[key] = self.text(obj)
        return found


def attribute(parts: list[str]) -> Cell:
    """obj.a.b.c, None as soon as a step is None (a nullable foreign key)."""
    if len(parts) == 1:
        return operator.attrgetter(parts[0])  # getattr(obj, name), in C

    def read(obj: Any) -> Any:
        for part in parts:
            obj = getattr(obj, part)
            if obj is None:
                return None
        return obj

    return read


def choice_cell(read: Cell, field: models.Field) -> Cell:
    """The choice's label; a value outside the choices stays as it is."""
    labels = {}
    for value, label in field.flatchoices:
        try:
            labels[value] = str(label)
        except TypeError:  # an unhashable (list-like) choice: shown as its value
            continue

    def label(obj: models.Model) -> Any:
        value = read(obj)
        try:
            return labels.get(value, value)
        except TypeError:
            return value

    return label


def computed(model_admin: Any, item: Any) -> Cell:
    """lookup_field()'s order for anything that is not a field: a callable, a ModelAdmin
    method, then the instance's method, property or attribute (a path walked step by step)."""
    if callable(item):
        return item
    if item != "__str__" and hasattr(model_admin, item):
        return getattr(model_admin, item)
    parts = item.split("__")

    def read(obj: Any) -> Any:
        value = getattr(obj, item, MISSING)
        if value is MISSING:
            value = walk(obj, parts)
        return value() if callable(value) else value

    return read


def walk(obj: Any, parts: list[str]) -> Any:
    for part in parts:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# An icon font's glyph (<i class="material-icons">business</i>, <span class="fa fa-x">): its
# text is a ligature name the reader never sees, so it is no text of the cell. Whole class
# names of the common families only: a <span class="has-icon">Label</span> keeps its text.
ICON_CLASS = re.compile(
    r"(?:^|\s)(?:material-(?:icons|symbols)[\w-]*|glyphicon[\w-]*|fa[srbl]?|fa-[\w-]+|bi|bi-[\w-]+"
    r"|icon|icon-[\w-]+)(?=\s|$)",
    re.IGNORECASE,
)
UNSEEN = {"script", "style", "template"}
LABELS = ("aria-label", "alt", "title")  # the accessible name's order


class VisibleText(HTMLParser):
    """What a reader sees of some HTML: its text, icon glyphs and scripts left out, plus the
    first label (aria-label, alt or title), link target and image source, in document order,
    for a cell that has no text (an image-only link, a lone icon)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.label = self.href = self.src = ""
        self.hidden, self.hidden_tag = 0, ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: (value or "").strip() for name, value in attrs}
        self.label = self.label or next((found[n] for n in LABELS if found.get(n)), "")
        if tag == "a":
            self.href = self.href or found.get("href", "")
        elif tag == "img":
            self.src = self.src or found.get("src", "")
        if self.hidden:
            if tag == self.hidden_tag:
                self.hidden += 1
        elif tag in UNSEEN or (tag in ("i", "span") and ICON_CLASS.search(found.get("class", ""))):
            self.hidden, self.hidden_tag = 1, tag

    def handle_endtag(self, tag: str) -> None:
        if self.hidden and tag == self.hidden_tag:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    def result(self) -> str:
        return "".join(self.parts).strip() or self.label or self.href or self.src


@functools.lru_cache(maxsize=4096)
def html_text(value: str) -> str:
    """The text of some HTML as the admin's reader sees it (VisibleText's rule), trimmed.
    Cached, and parsed only when there is markup: the parser is the slowest step of a row,
    and a changelist's badges and links repeat from row to row."""
    if "<" not in value:
        return html.unescape(value).strip() if "&" in value else value.strip()
    parser = VisibleText()
    parser.feed(value)
    parser.close()
    return parser.result()


def heading_text(label: Any) -> str:
    """A heading is text: an HTML label (an icon with a title) becomes what html_text()
    reads from it; capfirst'ed as the changelist's header shows it."""
    text = str(label)
    return capfirst(html_text(text) if "<" in text else text.strip())


def as_shown(value: Any) -> Any:
    """display_for_value() minus the markup and the localisation: text, numbers and dates."""
    if isinstance(value, SafeData):
        value = html_text(str(value))
    if isinstance(value, str):
        return value if value.strip() else None
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, int | float | Decimal | date | time):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or None
    text = str(value)
    return text if text.strip() else None
