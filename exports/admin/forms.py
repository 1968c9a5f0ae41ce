"""The options a person picks for an export (CamCOPS' download options, in our words)."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from exports.datasets.base import DATASETS, Dataset, resolve_field
from exports.engine.pipeline import current_zone_name, file_options
from exports.formats import format_choices
from exports.models import REQUESTABLE_DELIVERIES, Delivery

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


class ExportOptionsForm(FileOptionsForm):
    format = forms.ChoiceField(choices=format_choices, initial="csv")
    delivery = forms.ChoiceField(
        choices=REQUESTABLE_DELIVERIES, initial=Delivery.BACKGROUND, widget=forms.RadioSelect
    )
    columns = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    data_dictionary = forms.BooleanField(
        required=False, help_text="Add a sheet or file describing every column."
    )
    sort_columns = forms.BooleanField(required=False, label="Sort columns by heading")
    simplified = forms.BooleanField(
        required=False, label="Simplified spreadsheet", help_text="Plain cells, no styling."
    )

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.name, c.heading) for c in dataset.columns]
        self.fields["columns"].choices = choices
        self.fields["columns"].initial = [name for name, _ in choices]

    def export_options(self) -> dict[str, Any]:
        """What the audit row keeps; columns only when some were unticked."""
        data = self.cleaned_data
        options = {k: True for k in ("data_dictionary", "sort_columns", "simplified") if data[k]}
        options.update(self.file_options())
        if len(data["columns"]) < len(self.fields["columns"].choices):
            options["columns"] = data["columns"]
        return options


def related_choices(filter_name: str) -> list[tuple[str, str]]:
    """Choices for a foreign-key filter (game, task) taken from the datasets that offer it."""
    for dataset in DATASETS.values():
        if filter_name in dataset.filters:
            related = resolve_field(dataset.model, dataset.filters[filter_name]).related_model
            if related is None:
                continue
            return [("", "Any")] + [(str(o.pk), str(o)) for o in related.objects.order_by("pk")]
    return [("", "Any")]


def start_of(day: date) -> str:
    """Midnight in the site's time zone, as an aware ISO timestamp."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()).isoformat()


class DatasetExportForm(FileOptionsForm):
    """The admin counterpart of seed 000's /v1/exports."""

    dataset = forms.ChoiceField(choices=[(d.name, d.title) for d in DATASETS.values()])
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )
    game = forms.ChoiceField(required=False, help_text="User points only.")
    task = forms.ChoiceField(required=False, help_text="User points only.")
    limit = forms.IntegerField(required=False, min_value=1, label="Row limit")
    format = forms.ChoiceField(choices=format_choices, initial="csv")
    delivery = forms.ChoiceField(
        choices=REQUESTABLE_DELIVERIES, initial=Delivery.BACKGROUND, widget=forms.RadioSelect
    )
    data_dictionary = forms.BooleanField(required=False)
    field_order = [
        *("dataset", "date_from", "date_to", "game", "task", "limit", "format", "delivery"),
        *("data_dictionary", "time_zone", "bom", "delimiter"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["game"].choices = related_choices("game")
        self.fields["task"].choices = related_choices("task")

    def export_options(self) -> dict[str, Any]:
        options = {"data_dictionary": True} if self.cleaned_data["data_dictionary"] else {}
        return {**options, **self.file_options()}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        dataset = DATASETS.get(data.get("dataset", ""))
        if dataset is None:
            return data
        for name in ("game", "task"):
            if data.get(name) and name not in dataset.filters:
                self.add_error(name, f"{dataset.title} cannot be filtered by {name}.")
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
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
        for name in ("game", "task"):
            if data.get(name):
                conditions[name] = int(data[name])
        filters: dict[str, Any] = {"conditions": conditions} if conditions else {}
        if data["limit"]:
            filters["limit"] = data["limit"]
        return filters
