import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo superuser 'admin' (password from EXPORTDESK_ADMIN_PASSWORD or printed)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            self.stdout.write("User 'admin' already exists; password unchanged.")
            return
        password = os.environ.get("EXPORTDESK_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.com", password)
        shown = (
            "from EXPORTDESK_ADMIN_PASSWORD"
            if "EXPORTDESK_ADMIN_PASSWORD" in os.environ
            else password
        )
        self.stdout.write(f"Created superuser 'admin' with password: {shown}")
