"""The admin: the Export… action (per ModelAdmin with ExportMixin, or site-wide with
enable_export()) and its options page, the Datasets page, and the read-only audit and
download-file admins. Imports everything below it; nothing imports it.

Public: `ExportMixin`, `enable_export`.
"""

from exports.admin import (
    audit,  # noqa: F401 - registers Exportdesk's own ModelAdmins
    scheduling,  # noqa: F401 - saved exports, schedules, their runs
    tokens,  # noqa: F401 - API tokens
)
from exports.admin.mixin import ExportMixin
from exports.admin.sitewide import enable_export

__all__ = ["ExportMixin", "enable_export"]
