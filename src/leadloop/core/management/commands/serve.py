import os
import signal
import subprocess
import sys

import uvicorn
from django.core.management.base import BaseCommand

# Seconds a stopping server lets requests finish; then it cancels them, such as open event
# streams, which never finish on their own (browsers reconnect to another process and resume).
SHUTDOWN_GRACE_S = 5


class Command(BaseCommand):
    help = "Serve the web UI, API and webhooks (uvicorn); --with-worker also runs the worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1, help="web processes")
        parser.add_argument("--with-worker", action="store_true")

    def handle(self, *args, host: str, port: int, workers: int, with_worker: bool, **options):
        worker = None
        if with_worker:
            worker = subprocess.Popen([sys.executable, "-m", "leadloop.cli", "worker"])
        self.stdout.write(f"LeadLoop on http://{host}:{port}/  (Ctrl-C stops)")
        # uvicorn shuts down on SIGTERM and then raises it again; exiting through Python (not
        # the default action) lets the `finally` below stop the worker too.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            uvicorn.run(
                "leadloop.config.asgi:application",
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                lifespan="off",
                access_log=False,
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            )
        finally:
            if worker:
                worker.terminate()
                worker.wait(timeout=10)
