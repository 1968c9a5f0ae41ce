"""The form on the API tokens page."""

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

NO_PASSWORD = _(
    "Your account has no password to confirm this with: ask an administrator to create a "
    "token for you (manage.py create_export_token)."
)


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
    # Asked again so that a browser left signed in (or a stolen session cookie) cannot mint a
    # credential that outlives the session; the tokens die when the password changes.
    password = forms.CharField(
        label=_("Your password"),
        required=False,  # clean_password says which is missing: the password or the account's
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.has_usable_password():
            raise forms.ValidationError(NO_PASSWORD, code="no_password")
        if not password:
            raise forms.ValidationError(self.fields["password"].error_messages["required"])
        if not self.user.check_password(password):
            raise forms.ValidationError(
                _("Your password is not correct."), code="password_incorrect"
            )
        return password

    def refuse_too_many(self, limit: int) -> None:
        """Called by the page when the owner already holds the most tokens allowed."""
        text = ngettext(
            "You already have %(count)d active API token, the most allowed. Revoke one below "
            "to make another.",
            "You already have %(count)d active API tokens, the most allowed. Revoke one below "
            "to make another.",
            limit,
        )
        self.add_error(None, text % {"count": limit})

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_days")
        return timezone.now() + timedelta(days=days) if days else None
