"""The admin: the Export… action and its options page, the Datasets page, and the read-only
audit and download-file admins. Imports everything below it; nothing imports it.

Public: `ExportMixin`.
"""

from exports.admin import (
    audit,  # noqa: F401 - registers Exportdesk's own ModelAdmins
    scheduling,  # noqa: F401 - saved exports, schedules, their runs
)
from exports.admin.mixin import ExportMixin

__all__ = ["ExportMixin"]
