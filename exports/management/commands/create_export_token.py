"""`manage.py create_export_token USERNAME --label NAME [--expires-days N]`: a personal API
token, printed once on stdout (alone, so scripts can capture it); nothing keeps the secret.
Refused when the user already holds EXPORTS_MAX_TOKENS_PER_USER active tokens."""

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from exports.models import ApiToken, TooManyTokens


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--label", required=True, help="What the token is for.")
        parser.add_argument("--expires-days", type=int, help="Stop working after N days.")

    def handle(self, *args: Any, username: str, label: str, expires_days: int | None, **_) -> None:
        users = get_user_model()._default_manager
        try:
            owner = users.get_by_natural_key(username)
        except users.model.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        label = label.strip()
        if not label or len(label) > ApiToken._meta.get_field("label").max_length:
            raise CommandError("--label must be 1 to 100 characters.")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            token, secret = ApiToken.issue(owner, label, expires)
        except TooManyTokens as exc:
            raise CommandError(
                f"{username} already has {exc.limit} active API token"
                f"{'s' if exc.limit != 1 else ''}, the most allowed "
                "(EXPORTS_MAX_TOKENS_PER_USER). Revoke one first (API tokens page or admin)."
            ) from None
        self.stdout.write(secret)
        self.stderr.write(
            f"Created {token} for {username}. This is the only time it is shown; store it now."
        )
