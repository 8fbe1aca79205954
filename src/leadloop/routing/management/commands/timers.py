import threading

from django.core.management.base import BaseCommand

from leadloop.routing.sla import BATCH, timers_fire_due, timers_run


class Command(BaseCommand):
    help = (
        "Fire due SLA timers (the worker does this too). --drain fires what is due and exits; "
        "without it, runs until stopped. Any number may run at once: each timer fires once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drain", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")

    def handle(self, *args, drain: bool, interval: float, **options):
        if drain:
            total = 0
            while (claimed := timers_fire_due()) > 0:
                total += claimed
                if claimed < BATCH:
                    break
            self.stdout.write(f"fired={total}")
            return
        stop = threading.Event()
        try:
            timers_run(stop=stop, interval=interval)
        except KeyboardInterrupt:
            stop.set()
