from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leadloop.core.access import Actor
from leadloop.core.errors import ApplicationError
from leadloop.core.models import Workspace
from leadloop.intake.imports import (
    TARGETS,
    import_confirm,
    import_open,
    import_run,
    mapping_override,
)
from leadloop.intake.models import Import

DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t"}


class Command(BaseCommand):
    help = (
        "Import leads from a CSV or XLSX file: `import FILE --workspace SLUG [--source S] "
        "[--campaign C]`. Prints `created=N merged=N invalid=N failed=N`."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--workspace", required=True)
        parser.add_argument("--source", default="", help="source of rows without one")
        parser.add_argument("--campaign", default="", help="campaign of rows without one")
        parser.add_argument("--origin", default="", help="where the list came from")
        parser.add_argument("--encoding", default="", help="detected when not given")
        parser.add_argument("--delimiter", default="", choices=["", *DELIMITERS])
        parser.add_argument("--sheet", default="", help="XLSX sheet (default: the first)")
        parser.add_argument(
            "--mapping",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="override a suggested column target: " + ", ".join(t or "ignore" for t in TARGETS),
        )

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace {options['workspace']!r}")
        path = Path(options["file"])
        actor = Actor.system(workspace, "import:cli")
        try:
            job = import_open(
                workspace=workspace,
                actor=actor,
                path=path.resolve(),
                file_name=path.name,
                origin=options["origin"] or f"leadloop import {path}",
                encoding=options["encoding"],
                delimiter=DELIMITERS.get(options["delimiter"], ""),
                sheet=options["sheet"],
            )
            import_confirm(
                job=job,
                actor=actor,
                mapping=mapping_override(job, dict(_pair(item) for item in options["mapping"])),
                source=options["source"],
                campaign=options["campaign"],
                background=False,
            )
        except ApplicationError as exc:
            raise CommandError(_fields(exc)) from exc
        job = import_run(import_id=job.pk)
        self.stdout.write(
            f"created={job.created} merged={job.merged} invalid={job.invalid} failed={job.failed}"
        )
        if job.status != Import.Status.DONE:
            raise CommandError(job.error)


def _pair(item: str) -> tuple[str, str]:
    column, _sep, target = item.rpartition("=")
    return column, target


def _fields(exc: ApplicationError) -> str:
    details = [m for messages in exc.fields.values() for m in messages if m != exc.message]
    return " ".join([exc.message, *details])
