"""The options a person picks for an export (CamCOPS' download options, in our words)."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone

from exports.conf import app_settings
from exports.datasets.base import DATASETS, Dataset, resolve_field
from exports.delivery.lifetime import OPTION as LIFETIME_OPTION
from exports.delivery.lifetime import max_hours
from exports.formats import format_choices
from exports.models import Delivery


class ExportOptionsForm(forms.Form):
    format = forms.ChoiceField(choices=format_choices, initial="csv")
    delivery = forms.ChoiceField(
        choices=Delivery.choices, initial=Delivery.BACKGROUND, widget=forms.RadioSelect
    )
    columns = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    data_dictionary = forms.BooleanField(
        required=False, help_text="Add a sheet or file describing every column."
    )
    sort_columns = forms.BooleanField(required=False, label="Sort columns by heading")
    simplified = forms.BooleanField(
        required=False, label="Simplified spreadsheet", help_text="Plain cells, no styling."
    )
    lifetime_hours = forms.IntegerField(required=False, min_value=1, label="Keep the file for")

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.name, c.heading) for c in dataset.columns]
        self.fields["columns"].choices = choices
        self.fields["columns"].initial = [name for name, _ in choices]
        limit_lifetime(self.fields["lifetime_hours"])

    def export_options(self) -> dict[str, Any]:
        """What the audit row keeps; columns only when some were unticked."""
        data = self.cleaned_data
        options = {k: True for k in ("data_dictionary", "sort_columns", "simplified") if data[k]}
        if len(data["columns"]) < len(self.fields["columns"].choices):
            options["columns"] = data["columns"]
        if data.get("lifetime_hours") and data["lifetime_hours"] != default_hours():
            options[LIFETIME_OPTION] = data["lifetime_hours"]
        return options


def default_hours() -> int:
    return int(app_settings.FILE_LIFETIME.total_seconds() // 3600)


def limit_lifetime(field: forms.IntegerField) -> None:
    """Hours, from 1 to EXPORTS_MAX_FILE_LIFETIME; the site's default unless changed."""
    most = max_hours()
    field.initial = default_hours()
    field.validators.append(MaxValueValidator(most))
    field.widget.attrs.update(max=most, min=1)
    field.help_text = f"Hours, up to {most} ({most // 24} days)."


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


class DatasetExportForm(forms.Form):
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
        choices=Delivery.choices, initial=Delivery.BACKGROUND, widget=forms.RadioSelect
    )
    data_dictionary = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["game"].choices = related_choices("game")
        self.fields["task"].choices = related_choices("task")

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
