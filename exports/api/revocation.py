"""A user's API tokens die with the credential they were made under: all of them are revoked
when the user's password is set (set_password by any form, view or command that then saves the
user), when password login is switched off for them (set_unusable_password) and when they are
deactivated. A stolen session that minted a token therefore loses it at the next password
change; reactivating a user brings no old token back.

Signals on the user model rather than a fingerprint of the password hash kept on each token:
Django re-hashes a password at login whenever the preferred hasher or its work factor changes
(most releases raise PBKDF2's iterations), which would change any fingerprint and silently
revoke every token after an upgrade. Django marks that re-hash as "not a password change" (it
saves only `password`, without set_password's marker): it keeps the tokens, any other change of
the stored hash revokes them. Changes that bypass save(), such as QuerySet.update() or raw SQL,
send no signal; revoke tokens in the admin then. Inactive owners are also refused at every
request (exports.api.auth), however they were deactivated.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db.models.signals import post_save, pre_save

from exports.models import ApiToken

PASSWORD_CHANGED = "password changed"  # noqa: S105 - a reason, not a password
DEACTIVATED = "account deactivated"


def connect() -> None:
    user_model = settings.AUTH_USER_MODEL  # a lazy reference: resolved once the model exists
    pre_save.connect(remember_password, sender=user_model, dispatch_uid="exports.token_pw")
    post_save.connect(revoke_tokens, sender=user_model, dispatch_uid="exports.token_revoke")


def writes(update_fields: Iterable[str] | None, field: str) -> bool:
    return update_fields is None or field in update_fields


def password_set(user) -> bool:
    """set_password() was called since the user was loaded (AbstractBaseUser's own marker)."""
    return getattr(user, "_password", None) is not None


def remember_password(sender, instance, raw=False, update_fields=None, using=None, **kwargs):
    """The stored hash before this save, when only comparing with it can tell a disabled or
    replaced password from an edit that leaves it alone."""
    instance._exports_stored_password = None
    if raw or instance._state.adding or not hasattr(instance, "password"):
        return
    if not writes(update_fields, "password") or password_set(instance):
        return
    if update_fields is not None and set(update_fields) == {"password"}:
        return  # Django's re-hash of the same password at login: not a change
    stored = sender._base_manager.using(using).filter(pk=instance.pk)
    instance._exports_stored_password = stored.values_list("password", flat=True).first()


def revoke_tokens(sender, instance, created=False, raw=False, update_fields=None, **kwargs):
    if created or raw:
        return
    reason = revocation_reason(instance, update_fields)
    if reason:
        ApiToken.objects.filter(owner_id=instance.pk).revoke(reason)


def revocation_reason(user, update_fields: Iterable[str] | None) -> str:
    if writes(update_fields, "is_active") and not getattr(user, "is_active", True):
        return DEACTIVATED
    stored = getattr(user, "_exports_stored_password", None)
    if password_set(user) or (stored is not None and stored != user.password):
        return PASSWORD_CHANGED
    return ""
