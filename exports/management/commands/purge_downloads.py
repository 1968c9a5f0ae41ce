from django.core.management.base import BaseCommand

from exports.purge import purge_expired


class Command(BaseCommand):
    help = "Delete expired download files (the stored object and the row)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List, delete nothing.")

    def handle(self, *args, dry_run: bool, **options):
        names = purge_expired(dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        for name in names:
            self.stdout.write(f"{verb} {name}")
        self.stdout.write(f"{verb} {len(names)} expired download(s).")
