from django.core.management.base import BaseCommand, CommandError

from leadloop.core.access import Actor
from leadloop.core.errors import ApplicationError
from leadloop.core.models import Member, Role, Workspace
from leadloop.core.services import token_create


class Command(BaseCommand):
    help = "Manage API tokens: `token create --workspace SLUG --name NAME [--role R]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Print a new API token alone on stdout.")
        create.add_argument("--workspace", required=True)
        create.add_argument("--name", required=True)
        create.add_argument(
            "--role", default=Role.ADMIN, choices=Role.values, help="ignored with --member"
        )
        create.add_argument(
            "--member", default="", help="e-mail of the member it acts as (with their role)"
        )

    def handle(self, *args, workspace: str, name: str, role: str, member: str, **options):
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            raise CommandError(f"no workspace {workspace!r}")
        acting = None
        if member:
            acting = Member.objects.filter(workspace=found, user__username=member.lower()).first()
            if acting is None:
                raise CommandError(f"no member {member!r} in {workspace}")
        try:
            _token, key = token_create(
                workspace=found,
                actor=Actor.system(found, "cli"),
                name=name,
                role=role,
                member=acting,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(key)
