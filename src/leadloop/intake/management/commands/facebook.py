from django.core.management.base import BaseCommand, CommandError

from leadloop.core.access import Actor
from leadloop.core.errors import ApplicationError
from leadloop.core.models import Workspace
from leadloop.intake.inbox import facebook_reconcile

OUTCOMES = ("created", "joined", "duplicate", "failed")


class Command(BaseCommand):
    help = "Facebook Lead Ads: `facebook reconcile --workspace SLUG [--form ID]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        reconcile = sub.add_parser(
            "reconcile", help="Read the forms' leads since the last reconciliation."
        )
        reconcile.add_argument("--workspace", required=True)
        reconcile.add_argument("--form", default="", help="one form id (default: every form seen)")

    def handle(self, *args, workspace: str, form: str, **options):
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            raise CommandError(f"no workspace {workspace!r}")
        try:
            done = facebook_reconcile(
                workspace=found, actor=Actor.system(found, "cli"), form_id=form.strip()
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not done:
            self.stdout.write("no Facebook form seen yet: give --form ID")
        for result in done:
            counts = " ".join(f"{name}={result.counts[name]}" for name in OUTCOMES)
            line = f"form={result.form_id} {counts}"
            self.stdout.write(f"{line} error={result.error}" if result.error else line)
        if any(result.error for result in done):
            raise CommandError("some forms could not be read; run it again later")
