import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand

from leadloop.routing.sla import timers_run


class Command(BaseCommand):
    help = (
        "Run the background worker: queued tasks (Huey: SQLite storage by default, Redis with "
        "REDIS_URL) and the SLA timers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, workers: int, **options):
        stop = threading.Event()
        timers = threading.Thread(target=timers_run, kwargs={"stop": stop}, name="sla-timers")
        timers.start()
        try:
            # a line per task at 50 deliveries/s costs the worker a few percent of its CPU:
            # Huey's warnings and errors only, unless -v 2
            quiet = None if options["verbosity"] >= 2 else False
            call_command("run_huey", workers=workers, worker_type="thread", verbose=quiet)
        finally:
            stop.set()
            timers.join(timeout=10)
