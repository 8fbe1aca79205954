from django.core.management.base import BaseCommand, CommandError

from leadloop.core.access import Actor
from leadloop.core.errors import ApplicationError
from leadloop.core.models import Workspace
from leadloop.intake.inbox import deliveries_replay_failed, delivery_replay
from leadloop.intake.models import Delivery


class Command(BaseCommand):
    help = "The webhook inbox: `inbox replay --failed [--workspace SLUG]` or `inbox replay ID`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        replay = sub.add_parser("replay", help="Process failed deliveries again.")
        which = replay.add_mutually_exclusive_group(required=True)
        which.add_argument("--failed", action="store_true", help="every failed delivery")
        which.add_argument("id", nargs="?", type=int, help="one failed delivery")
        replay.add_argument("--workspace", default="", help="only this workspace")

    def handle(self, *args, failed: bool, id: int | None, workspace: str, **options):
        workspaces = Workspace.objects.order_by("slug")
        if workspace:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces.exists():
                raise CommandError(f"no workspace {workspace!r}")
        try:
            if failed:
                total = 0
                for found in workspaces:
                    actor = Actor.system(found, "cli")
                    count = deliveries_replay_failed(workspace=found, actor=actor)
                    total += count
                    if count or workspace:
                        self.stdout.write(f"{found.slug}: replayed={count}")
                if not total and not workspace:
                    self.stdout.write("replayed=0 (no failed delivery)")
                return
            delivery = Delivery.objects.filter(pk=id, workspace__in=workspaces).first()
            if delivery is None:
                raise CommandError(f"no delivery {id}")
            actor = Actor.system(delivery.workspace, "cli")
            delivery_replay(workspace=delivery.workspace, actor=actor, delivery=delivery)
            self.stdout.write(f"{delivery.workspace.slug}: replayed=1")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
