from django.core.management.base import BaseCommand, CommandError

from leadloop.core.errors import ApplicationError
from leadloop.core.services import workspace_create
from leadloop.pipeline.presets import PRESETS


class Command(BaseCommand):
    help = "Manage workspaces: `workspace create SLUG [--name NAME] [--preset P]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create an empty workspace with the stage preset.")
        create.add_argument("slug")
        create.add_argument("--name", default="")
        create.add_argument("--preset", default="telesales", choices=sorted(PRESETS))

    def handle(self, *args, action: str, slug: str, name: str, preset: str, **options):
        try:
            workspace = workspace_create(slug=slug, name=name, preset=preset)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"created workspace {workspace.slug}")
