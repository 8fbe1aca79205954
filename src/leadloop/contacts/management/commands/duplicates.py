from django.core.management.base import BaseCommand, CommandError

from leadloop.contacts.services import duplicates_scan
from leadloop.core.models import Workspace


class Command(BaseCommand):
    help = "Possible duplicates: `duplicates scan --workspace SLUG` runs the fuzzy finder."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="Look for fuzzy duplicates among all contacts.")
        scan.add_argument("--workspace", required=True)

    def handle(self, *args, action: str, workspace: str, **options):
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            raise CommandError(f"unknown workspace {workspace}")
        self.stdout.write(f"new_pairs={duplicates_scan(workspace=found)}")
