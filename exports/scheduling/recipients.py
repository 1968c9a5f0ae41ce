"""Who a schedule delivers to: its owner, users, the members of groups, outside addresses.

Users (and group members) get a file of their own on My downloads, exported with their own
permissions, and a link by e-mail. Outside addresses get the file attached, and only in the
domains listed in EXPORTS_ALLOWED_EMAIL_DOMAINS.

An owner addresses only people they work with: the members of groups they belong to, and those
groups. Holders of "Can send scheduled exports to anyone" (and superusers) address any user
and group. Checked when the schedule is saved and again at every run (a membership may end).
At most EXPORTS_SCHEDULE_MAX_RECIPIENTS people and addresses besides the owner, counted after
groups expand.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exports.conf import app_settings

SEND_TO_ANYONE = "exports.send_to_anyone"
NOT_ADDRESSABLE = gettext_lazy(
    "Not someone the schedule's owner may send files to: only members of the owner's groups "
    "(or anyone, for holders of “Can send scheduled exports to anyone”)."
)


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
        text = _(
            "%(address)s is an outside address, and this site sends files to no outside "
            "domain (EXPORTS_ALLOWED_EMAIL_DOMAINS is empty). Add a user or a group instead."
        )
        return text % {"address": address}
    text = _("%(address)s is not in a domain this site may send files to; allowed: %(allowed)s.")
    return text % {"address": address, "allowed": ", ".join(allowed)}


def addressable_users(owner) -> QuerySet:
    """The users `owner` may name as recipients (and see the names of, in the form)."""
    users = get_user_model().objects.order_by(get_user_model().USERNAME_FIELD)
    if owner.has_perm(SEND_TO_ANYONE):
        return users
    return users.filter(Q(pk=owner.pk) | Q(groups__in=owner.groups.all())).distinct()


def addressable_groups(owner) -> QuerySet:
    groups = Group.objects.order_by("name")
    return groups if owner.has_perm(SEND_TO_ANYONE) else groups.filter(user=owner)


def may_address(owner, user) -> bool:
    """Whether a file for `user` may come from `owner`'s schedule (see the module docstring)."""
    return addressable_users(owner).filter(pk=user.pk).exists()


def schedule_owner(schedule):
    """The owner, once the form has told which saved export the schedule runs; else None."""
    return getattr(getattr(schedule, "saved_export", None), "owner", None)


def owner_of(recipient):
    return schedule_owner(getattr(recipient, "schedule", None))


def validate_recipient(recipient) -> None:
    """Exactly one of user, group, address; a user or group the owner may address; an
    address only in an allowed domain."""
    given = [bool(recipient.user_id), bool(recipient.group_id), bool(recipient.email)]
    if sum(given) != 1:
        raise ValidationError(_("Choose exactly one of a user, a group or an e-mail address."))
    owner = owner_of(recipient)
    if owner is not None:
        check_addressable(owner, recipient)
    if recipient.email and not domain_allowed(recipient.email):
        raise ValidationError({"email": refusal(recipient.email)})


def check_addressable(owner, recipient) -> None:
    if recipient.user_id and not may_address(owner, recipient.user):
        raise ValidationError({"user": NOT_ADDRESSABLE})
    groups = addressable_groups(owner)
    if recipient.group_id and not groups.filter(pk=recipient.group_id).exists():
        raise ValidationError(
            {"group": _("The schedule's owner may send files only to groups they belong to.")}
        )


def too_many(owner, recipients: Iterable) -> str:
    """Why these recipients are more than a schedule may have; "" when they are not."""
    count = len(expand(owner, recipients)) - 1
    most = app_settings.SCHEDULE_MAX_RECIPIENTS
    if count <= most:
        return ""
    text = _(
        "These recipients are %(count)s people and addresses once groups are counted by their "
        "members; a schedule may deliver to at most %(most)s besides its owner "
        "(EXPORTS_SCHEDULE_MAX_RECIPIENTS)."
    )
    return text % {"count": count, "most": most}


def targets(schedule) -> list[Target]:
    """The owner first, then everyone else once each (a user in two groups gets one file)."""
    return expand(schedule.owner, schedule.recipients.select_related("user", "group"))


def expand(owner, recipients: Iterable) -> list[Target]:
    """`recipients` (saved or still in a form) as the people and addresses they reach."""
    found: dict[str, Target] = {}

    def add(target: Target) -> None:
        found.setdefault(target.key, target)

    add(user_target(owner))
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
