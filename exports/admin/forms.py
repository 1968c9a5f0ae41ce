"""The options a person picks for an export (CamCOPS' download options, in our words)."""

import re
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from exports.clock import midnight
from exports.conf import app_settings
from exports.datasets.base import Dataset, resolve_field
from exports.datasets.changelist import DISPLAY, VALUES_OPTION
from exports.datasets.conditions import FIRST_DAY, LAST_DAY
from exports.delivery.lifetime import OPTION as LIFETIME_OPTION
from exports.delivery.lifetime import max_hours
from exports.engine.pipeline import current_zone_name, file_options
from exports.formats import format_choices
from exports.models import REQUESTABLE_DELIVERIES, Delivery

# A foreign-key filter gets a choice list on the Datasets page when its table is this small.
MAX_CHOICES = 500

DELIMITER_CHOICES = [
    ("comma", _("Comma ( , )")),
    ("semicolon", _("Semicolon ( ; ) — Excel in most of Europe")),
    ("tab", _("Tab")),
]


class FileOptionsForm(forms.Form):
    """The time zone every format writes its times in, and the CSV options for Excel."""

    # Not required: a post without them (a script, an older page) gets the defaults.
    time_zone = forms.ChoiceField(
        required=False,
        label=_("Time zone"),
        help_text=_("Dates and times in the file are written in this zone."),
    )
    bom = forms.BooleanField(
        required=False,
        label=_("UTF-8 with BOM (for Excel)"),
        help_text=_("CSV only: lets Excel read accents and other non-English characters."),
    )
    delimiter = forms.ChoiceField(
        required=False,
        choices=DELIMITER_CHOICES,
        initial="comma",
        label=_("CSV delimiter"),
        help_text=_("CSV only."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The zone active for this request (the site's TIME_ZONE unless the host activates
        # another); stored with the export, so the worker writes the same zone.
        current = current_zone_name()
        choices = [(current, _("%(zone)s (this site's time)") % {"zone": current})]
        if current != "UTC":
            choices.append(("UTC", "UTC"))
        self.fields["time_zone"].choices = choices
        self.fields["time_zone"].initial = current

    def file_options(self) -> dict[str, Any]:
        """The zone always; the CSV options only for CSV (other formats ignore them)."""
        data = self.cleaned_data
        fmt, zone = data["format"], data["time_zone"] or None
        if fmt != "csv":
            return file_options(fmt, zone)
        return file_options(fmt, zone, data["delimiter"] or None, data["bom"])


# Posted beside each column's checkbox (exports/widgets/ordered_checkboxes.html): its name, in
# the order the rows stand; and a row's up/down button, "up:<column>" or "down:<column>".
ORDER = "column_order"
MOVE = "move_column"


class OrderedCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes in rows that can be reordered: by up/down buttons that post the form to
    draw it again (no JavaScript needed), or, with exports/columns.js, by those buttons, the
    keyboard or dragging, in the page. Each row carries its column's name in a hidden input,
    so the posted order is the order the rows stand in."""

    template_name = "exports/widgets/ordered_checkboxes.html"


class ExportOptionsForm(FileOptionsForm):
    format = forms.ChoiceField(label=_("Format"), choices=format_choices, initial="csv")
    delivery = forms.ChoiceField(
        label=_("Delivery"),
        choices=REQUESTABLE_DELIVERIES,
        initial=Delivery.BACKGROUND,
        widget=forms.RadioSelect,
    )
    values = forms.ChoiceField(
        label=_("Columns"),
        choices=[("raw", _("Raw values")), (DISPLAY, _("As shown in the admin"))],
        initial="raw",
        required=False,  # absent: raw values, as before the choice existed
        widget=forms.RadioSelect,
    )
    columns = forms.MultipleChoiceField(widget=OrderedCheckboxes, required=False)
    data_dictionary = forms.BooleanField(
        label=_("Data dictionary"),
        required=False,
        help_text=_("Add a sheet or file describing every column."),
    )
    sort_columns = forms.BooleanField(required=False, label=_("Sort columns by heading"))
    simplified = forms.BooleanField(
        required=False, label=_("Simplified spreadsheet"), help_text=_("Plain cells, no styling.")
    )
    lifetime_hours = forms.IntegerField(required=False, min_value=1, label=_("Keep the file for"))

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        headings = {c.name: c.heading for c in dataset.columns}
        self.default_order = list(headings)
        self.moving = self.is_bound and bool(self.data.get(MOVE))
        self.order = self.chosen_order(headings)
        choices = [(name, headings[name]) for name in self.order]
        self.fields["columns"].choices = choices
        self.fields["columns"].initial = self.default_order
        limit_lifetime(self.fields["lifetime_hours"])

    def chosen_order(self, headings: dict[str, Any]) -> list[str]:
        """The posted order (unknown names left out, missing ones after it), with the move a
        row's up/down button asked for applied: those buttons work without JavaScript."""
        posted = posted_list(self.data, ORDER) if self.is_bound else []
        order = list(dict.fromkeys(n for n in posted if n in headings))
        order += [name for name in headings if name not in order]
        if self.moving:
            direction, _colon, name = str(self.data[MOVE]).partition(":")
            move(order, name, -1 if direction == "up" else 1)
        return order

    def is_valid(self) -> bool:
        """A move button posts the form only to draw it again in the new order: never an
        export, and no error either."""
        return super().is_valid() and not self.moving

    def clean(self) -> dict[str, Any]:
        """The ticks are raw columns: needed for raw values, ignored as shown in the admin."""
        data = super().clean()
        if data.get("values") != DISPLAY and not data.get("columns"):
            self.add_error("columns", self.fields["columns"].error_messages["required"])
        ticked = set(data.get("columns") or ())
        data["columns"] = [name for name in self.order if name in ticked]
        return data

    def export_options(self) -> dict[str, Any]:
        """What the audit row keeps; columns only when some were unticked or moved."""
        data = self.cleaned_data
        options = {k: True for k in ("data_dictionary", "sort_columns", "simplified") if data[k]}
        options.update(self.file_options())
        if data.get("lifetime_hours") and data["lifetime_hours"] != default_hours():
            options[LIFETIME_OPTION] = data["lifetime_hours"]
        if data.get("values") == DISPLAY:  # list_display decides the columns
            return {**options, VALUES_OPTION: DISPLAY}
        if data["columns"] != self.default_order:
            options["columns"] = data["columns"]
        return options


def move(order: list[str], name: str, step: int) -> None:
    """Move `name` one place up (-1) or down (+1) in `order`; nothing past either end."""
    if name not in order:
        return
    here = order.index(name)
    there = here + step
    if 0 <= there < len(order):
        order[here], order[there] = order[there], order[here]


def default_hours() -> int:
    return int(app_settings.FILE_LIFETIME.total_seconds() // 3600)


def limit_lifetime(field: forms.IntegerField) -> None:
    """Hours, from 1 to EXPORTS_MAX_FILE_LIFETIME; the site's default unless changed."""
    most = max_hours()
    field.initial = default_hours()
    field.validators.append(MaxValueValidator(most))
    field.widget.attrs.update(max=most, min=1)
    field.help_text = _("Hours, up to %(hours)s (%(days)s days).") % {
        "hours": most,
        "days": most // 24,
    }


def limit_rows(field: forms.IntegerField) -> None:
    """At most EXPORTS_MAX_ROWS_BACKGROUND, read per form (settings change in tests): a
    larger number reached the database's LIMIT (a 500, or "bigint out of range")."""
    most = app_settings.MAX_ROWS_BACKGROUND
    message = gettext("The row limit must be a whole number from 1 to %(most)s.") % {"most": most}
    field.validators.append(MaxValueValidator(most, message=message))
    field.widget.attrs["max"] = most


def choice_filters(datasets: list[Dataset]) -> dict[str, tuple[forms.Field, list[str]]]:
    """Foreign-key filters of `datasets` (a game, a task: not the user, whose list nobody
    should scroll) -> (the target field, titles of the datasets offering it)."""
    found: dict[str, tuple[forms.Field, list[str]]] = {}
    user_model = get_user_model()
    for dataset in datasets:
        for name, path in dataset.filters.items():
            if name in DatasetExportForm.base_fields:
                continue
            field = resolve_field(dataset.model, path)
            if field.related_model is None or field.related_model is user_model:
                continue
            found.setdefault(name, (field, []))[1].append(str(dataset.title))
    return found


def related_choices(field) -> list[tuple[str, str]] | None:
    """None when the table is too long for a drop-down."""
    objects = list(field.related_model._default_manager.order_by("pk")[: MAX_CHOICES + 1])
    if len(objects) > MAX_CHOICES:
        return None
    return [("", gettext("Any"))] + [(str(o.pk), str(o)) for o in objects]


class WholeNumberField(forms.IntegerField):
    """ASCII digits only: Django's own reads '１０', '١٠' and '1_0' as 10 (Python's int())."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and not re.fullmatch(r"\s*[0-9]*\s*", value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DayField(forms.DateField):
    """A day a filter may name (exports.datasets.conditions), so that the day after it
    exists; written in ASCII digits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(widget=forms.DateInput(attrs={"type": "date"}), **kwargs)
        message = format_lazy(_("{} must be a day from {} to {}."), self.label, FIRST_DAY, LAST_DAY)
        self.validators += [
            MinValueValidator(FIRST_DAY, message=message),
            MaxValueValidator(LAST_DAY, message=message),
        ]

    def to_python(self, value: Any) -> date | None:
        if isinstance(value, str) and not value.isascii():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


def start_of(day: date) -> str:
    """Midnight in the site's time zone, as an ISO timestamp (naive with USE_TZ = False)."""
    return midnight(day).isoformat()


class DatasetExportForm(FileOptionsForm):
    """The admin counterpart of seed 000's /v1/exports, offering only `datasets` (those the
    user may export). Datasets with a `created` filter take a date range; foreign-key filters
    (game, task...) get a choice list each."""

    dataset = forms.ChoiceField(label=_("Dataset"))
    date_from = DayField(label=_("Date from"), required=False)
    date_to = DayField(label=_("Date to"), required=False, help_text=_("Inclusive."))
    limit = WholeNumberField(
        required=False,
        min_value=1,
        label=_("Row limit"),
        error_messages={"invalid": _("The row limit must be a whole number.")},
    )
    format = forms.ChoiceField(label=_("Format"), choices=format_choices, initial="csv")
    delivery = forms.ChoiceField(
        label=_("Delivery"),
        choices=REQUESTABLE_DELIVERIES,
        initial=Delivery.BACKGROUND,
        widget=forms.RadioSelect,
    )
    data_dictionary = forms.BooleanField(label=_("Data dictionary"), required=False)
    field_order = [
        *("dataset", "date_from", "date_to", "limit", "format", "delivery"),
        *("data_dictionary", "time_zone", "bom", "delimiter"),
    ]

    def __init__(self, *args: Any, datasets: list[Dataset], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_rows(self.fields["limit"])
        self.datasets = {d.name: d for d in datasets}
        self.fields["dataset"].choices = [(d.name, d.title) for d in datasets]
        self.targets: dict[str, Any] = {}
        position = list(self.fields).index("date_to") + 1
        items = list(self.fields.items())
        for name, (field, titles) in choice_filters(datasets).items():
            choices = related_choices(field)
            if choices is None:
                continue
            self.targets[name] = field.target_field
            help_text = format_lazy(_("Only for: {}."), ", ".join(titles))
            items.insert(
                position,
                (
                    name,
                    forms.ChoiceField(
                        label=str(field.related_model._meta.verbose_name).capitalize(),
                        required=False,
                        choices=choices,
                        help_text=help_text,
                    ),
                ),
            )
            position += 1
        self.fields = dict(items)

    def export_options(self) -> dict[str, Any]:
        options = {"data_dictionary": True} if self.cleaned_data["data_dictionary"] else {}
        return {**options, **self.file_options()}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        dataset = self.datasets.get(data.get("dataset", ""))
        if dataset is None:
            return data
        for field_name in self.targets:
            if data.get(field_name) and field_name not in dataset.filters:
                message = gettext("%(dataset)s cannot be filtered by %(filter)s.")
                names = {"dataset": dataset.title, "filter": field_name}
                self.add_error(field_name, message % names)
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", gettext("The end date is before the start date."))
        return data

    def export_filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        conditions: dict[str, Any] = {}
        created: dict[str, str] = {}
        if data["date_from"]:
            created["ge"] = start_of(data["date_from"])
        if data["date_to"]:
            created["lt"] = start_of(data["date_to"] + timedelta(days=1))
        if created:
            conditions["created"] = created
        for name, target in self.targets.items():
            if data.get(name):
                value = target.to_python(data[name])
                conditions[name] = value if isinstance(value, int | str) else str(value)
        filters: dict[str, Any] = {"conditions": conditions} if conditions else {}
        if data["limit"]:
            filters["limit"] = data["limit"]
        return filters


def posted_list(data: Any, name: str) -> list[str]:
    """A posted list from a QueryDict, or from a plain dict as code and tests bind forms."""
    if hasattr(data, "getlist"):
        return data.getlist(name)
    value = data.get(name, [])
    return list(value) if isinstance(value, list | tuple) else [value]
