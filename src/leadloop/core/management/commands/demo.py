import os

from django.core.management.base import BaseCommand, CommandError

from leadloop.core.demo import DEFAULT_LEADS, DEFAULT_SLUG, SEED, demo_load, demo_logins
from leadloop.core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create the demo workspace with realistic Vietnamese leads, or keep it when it already "
        "has leads; print the address and the demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", default=DEFAULT_SLUG, help="slug (default: demo)")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete the workspace and everything in it, then recreate it",
        )
        parser.add_argument(
            "--leads",
            type=int,
            default=DEFAULT_LEADS,
            help=f"about how many leads to make (default: {DEFAULT_LEADS})",
        )
        parser.add_argument("--seed", type=int, default=SEED, help="random seed")

    def handle(self, *args, workspace: str, reset: bool, leads: int, seed: int, **options):
        if leads < 1:
            raise CommandError("--leads must be at least 1")
        try:
            result = demo_load(slug=workspace, leads=leads, seed=seed, reset=reset)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        ws, counts = result.workspace, result.counts
        if result.created:
            self.stdout.write(
                f"Demo workspace {ws.slug} ({ws.name}) loaded in {result.seconds:.1f} s: "
                f"{counts['leads']:,} leads from {counts['submissions']:,} submissions "
                f"({counts['joined']:,} joined an open lead, {counts['returning']:,} returning "
                f"contacts), {counts['calls']:,} calls, {counts['stage_changes']:,} stage changes."
            )
        else:
            self.stdout.write(
                f"Demo workspace {ws.slug} ({ws.name}) already has {counts['leads']:,} leads; "
                f"kept as it is (--reset recreates it)."
            )
        port = os.environ.get("PORT") or "8000"
        self.stdout.write(f"\nOpen http://127.0.0.1:{port}/ and sign in as:\n")
        logins = demo_logins(ws)
        width = max([len(login.email) for login in logins] + [5])
        self.stdout.write(f"  {'email':<{width}}  {'role':<8}  {'name':<18}  password")
        for login in logins:
            name = f"{login.full_name:<18}"
            self.stdout.write(
                f"  {login.email:<{width}}  {login.role:<8}  {name}  {login.password}"
            )
