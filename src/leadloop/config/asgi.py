import os
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

import django
from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.config.settings")


class OneHopHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the views in one worker-thread call,
    on threads kept from one request to the next.

    Our middleware is synchronous, so Django's own chain goes from the worker thread back to the
    event loop and into the thread again around every view: three hops a request, about a tenth
    of an API request's CPU. Here the whole chain is synchronous and entered once; the async
    views (the event stream) still run on the loop, and their streams are sent from it.

    Django gives every request a thread-sensitive context of its own, so that its sync code runs
    on one thread; asgiref starts a thread for each context, and another to stop it at the end
    of the request. Here each request's context runs on a one-thread executor taken from a free
    list and put back afterwards (as a threaded WSGI server reuses its threads): still one
    request at a time per thread, no thread started or stopped per request. Past
    MAX_IDLE_THREADS idle ones, an executor is shut down instead.
    """

    MAX_IDLE_THREADS = 64

    def __init__(self):
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = self.adapt_method_mode(True, self._middleware_chain, False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(max_workers=1)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < self.MAX_IDLE_THREADS:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)


django.setup(set_prefix=False)
application = OneHopHandler()
# Import the views and build the API's schemas now, not in the first request (about half a
# second: a restarted server's first webhooks would wait that long for their answer).
import_module(settings.ROOT_URLCONF)
