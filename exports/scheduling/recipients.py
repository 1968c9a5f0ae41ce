"""Who a schedule delivers to: its owner, users, the members of groups, outside addresses.

Users (and group members) get a file of their own on My downloads, exported with their own
permissions, and a link by e-mail. Outside addresses get the file attached, and only in the
domains listed in EXPORTS_ALLOWED_EMAIL_DOMAINS.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from exports.conf import app_settings


@dataclass(frozen=True)
class Target:
    """One recipient of one run; `key` names their sent log."""

    key: str
    user: Any = None
    email: str = ""

    @property
    def label(self) -> str:
        return self.email or self.user.get_username()


def user_target(user) -> Target:
    return Target(f"user:{user.pk}", user=user)


def email_target(address: str) -> Target:
    return Target(f"email:{address.strip().lower()}", email=address.strip())


def allowed_domains() -> list[str]:
    return sorted({d.strip().lower().lstrip("@") for d in app_settings.ALLOWED_EMAIL_DOMAINS})


def domain_allowed(address: str) -> bool:
    domain = address.rpartition("@")[2].strip().lower()
    return bool(domain) and domain in allowed_domains()


def refusal(address: str) -> str:
    allowed = allowed_domains()
    if not allowed:
        return (
            f"{address} is an outside address, and this site sends files to no outside "
            "domain (EXPORTS_ALLOWED_EMAIL_DOMAINS is empty). Add a user or a group instead."
        )
    return (
        f"{address} is not in a domain this site may send files to; allowed: {', '.join(allowed)}."
    )


def validate_recipient(recipient) -> None:
    """Exactly one of user, group, address; an address only in an allowed domain."""
    given = [bool(recipient.user_id), bool(recipient.group_id), bool(recipient.email)]
    if sum(given) != 1:
        raise ValidationError("Choose exactly one of a user, a group or an e-mail address.")
    if recipient.email and not domain_allowed(recipient.email):
        raise ValidationError({"email": refusal(recipient.email)})


def targets(schedule) -> list[Target]:
    """The owner first, then everyone else once each (a user in two groups gets one file)."""
    found: dict[str, Target] = {}

    def add(target: Target) -> None:
        found.setdefault(target.key, target)

    add(user_target(schedule.owner))
    recipients = schedule.recipients.select_related("user", "group")
    users = get_user_model().objects.filter(is_active=True)
    for recipient in recipients:
        if recipient.user_id:
            add(user_target(recipient.user))
        elif recipient.group_id:
            for member in users.filter(groups=recipient.group_id).order_by("pk"):
                add(user_target(member))
        elif recipient.email:
            add(email_target(recipient.email))
    return list(found.values())
