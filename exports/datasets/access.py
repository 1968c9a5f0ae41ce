"""Who may export at all, at every entry (admin, Datasets page, My downloads actions, the API
by token or session, schedule runs for the owner and each recipient, saved-export runs): the
admin's own rule, an active staff user with `exports.export_data`. A host widens it only on
purpose, by naming its own rule in EXPORTS_MAY_EXPORT. The command line runs as the system and
is not subject to it."""

from django.utils.module_loading import import_string

from exports.conf import app_settings

EXPORT_PERMISSION = "exports.export_data"


def staff_with_permission(user) -> bool:
    """The default rule: the admin lets this user in, and they hold "Can export data"."""
    return bool(user.is_active and user.is_staff and user.has_perm(EXPORT_PERMISSION))


def may_export(user) -> bool:
    """Whether `user` may export anything; each dataset adds its own permissions on top."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    rule = app_settings.MAY_EXPORT
    check = import_string(rule) if rule else staff_with_permission
    return bool(user.is_active and check(user))
