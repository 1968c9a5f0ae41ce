"""The form on the API tokens page."""

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiTokenForm(forms.Form):
    label = forms.CharField(
        label=_("Label"), max_length=100, help_text=_("What the token is for, e.g. 'Power BI'.")
    )
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("Empty: until you revoke it."),
    )

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_days")
        return timezone.now() + timedelta(days=days) if days else None
