from django.core.management.base import BaseCommand

from exports.delivery.purge import purge_expired, purge_orphans


class Command(BaseCommand):
    help = "Delete expired download files (stored object and row), then stored orphans."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List, delete nothing.")

    def handle(self, *args, dry_run: bool, **options):
        verb = "Would remove" if dry_run else "Removed"
        expired = purge_expired(dry_run=dry_run, orphans=False)
        orphans = purge_orphans(dry_run=dry_run)
        for name in expired:
            self.stdout.write(f"{verb} {name}")
        for name in orphans:
            self.stdout.write(f"{verb} orphan {name}")
        self.stdout.write(f"{verb} {len(expired)} expired download(s), {len(orphans)} orphan(s).")
