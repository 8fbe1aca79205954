import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from importlib import import_module

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_started
from django.db import close_old_connections, reset_queries

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.config.settings")
REQUEST_KEY = "leadloop.request"  # the request, in its ASGI scope, until it is done


class OneHopHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the views in one worker-thread call,
    on threads kept from one request to the next.

    Our middleware is synchronous, so Django's own chain goes from the worker thread back to the
    event loop and into the thread again around every view: three hops a request, about a tenth
    of an API request's CPU. Here the whole chain is synchronous and entered once; the async
    views (the event stream) still run on the loop, and their streams are sent from it. Django's
    receivers of `request_started` (synchronous: one more hop to send it) run on that hop too.

    Django gives every request a thread-sensitive context of its own, so that its sync code runs
    on one thread; asgiref starts a thread for each context, and another to stop it at the end
    of the request. Here each request's context runs on a one-thread executor taken from a free
    list and put back afterwards (as a threaded WSGI server reuses its threads): still one
    request at a time per thread, no thread started or stopped per request. Past
    MAX_IDLE_THREADS idle ones, an executor is shut down instead.

    A request answered in full is freed at once, not left to Python's cycle collector. Two reference
    cycles kept every request (~100 objects: the request, its session, messages, response,
    tasks and frames) until a collection: Django's `RequestAborted`, raised by the disconnect
    listener once the server tells it the answer was sent, keeps the handler's frame in its
    traceback, which keeps the task holding it; and the request refers to itself through
    `request.user`, `request.htmx` and its message storage. Collecting ~90,000 of them took
    ~130 ms of CPU with the interpreter lock held, every ~7 s of a web process at 100 requests
    a second: every request in flight waited that long (docs/performance.md, round 19).
    """

    MAX_IDLE_THREADS = 64
    PULL_BYTES = 64 * 1024  # of a synchronous stream, taken from the request's thread at a time

    def __init__(self):
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        chain = self._middleware_chain

        def request_started_then_chain(request):
            reset_queries()  # Django's receivers of request_started, on this hop
            close_old_connections()
            return chain(request)

        self._middleware_chain = self.adapt_method_mode(True, request_started_then_chain, False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(max_workers=1)
        answered = False

        async def send_noting_the_end(message):
            nonlocal answered
            await send(message)
            answered |= message["type"] == "http.response.body" and not message.get("more_body")

        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send_noting_the_end)
        finally:
            request = scope.pop(REQUEST_KEY, None)
            if len(self._idle) < self.MAX_IDLE_THREADS:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)
        if answered and request is not None:
            _taken_apart(request)

    def create_request(self, scope, body_file):
        request, error_response = super().create_request(scope, body_file)
        scope[REQUEST_KEY] = request  # taken apart once the request is done
        return request, error_response

    async def listen_for_disconnect(self, receive):
        """Return when the client is gone: Django raises `RequestAborted`, which its handler
        only ignores, and whose traceback would keep the request alive in a cycle."""
        with suppress(RequestAborted):
            await super().listen_for_disconnect(receive)

    async def send_response(self, response, send):
        """A stream made by synchronous code (a CSV export, an XLSX file, a static file) is sent
        as it is made. Django would first make all of it, in memory, to send it from the loop."""
        if response.streaming and not response.is_async:
            response.streaming_content = _pulled(iter(response), self.PULL_BYTES)
        await super().send_response(response, send)


def _taken_apart(request) -> None:
    """Free a request that was answered in full, its handler returned: its view has returned the
    answer and its stream was read to the end, so nothing runs with it any more. (A request the
    client hung up on, or one cancelled at shutdown, may still be in its view on the worker
    thread — asgiref stops waiting for it — and is left to the collector.) What refers back to
    it goes with it."""
    vars(request).clear()


async def _pulled(parts: Iterator[bytes], size: int) -> AsyncIterator[bytes]:
    """The parts, about `size` bytes at a time, each taken on the request's own thread (where
    the stream's database cursor lives)."""
    take = sync_to_async(_take, thread_sensitive=True)
    while taken := await take(parts, size):
        yield taken


def _take(parts: Iterator[bytes], size: int) -> bytes:
    taken, length = [], 0
    for part in parts:
        taken.append(part)
        length += len(part)
        if length >= size:
            break
    return b"".join(taken)


django.setup(set_prefix=False)
# With no receivers, `request_started` is sent without a hop to a worker thread of its own
# (Django hops to run them, as they are synchronous): the chain's one hop runs them instead.
# (Django's test Client connects close_old_connections again after its requests: in a test
# process, the in-process server may then run it twice, which is harmless.)
request_started.disconnect(reset_queries)
request_started.disconnect(close_old_connections)
application = OneHopHandler()
# Import the views and build the API's schemas now, not in the first request (about half a
# second: a restarted server's first webhooks would wait that long for their answer).
import_module(settings.ROOT_URLCONF)
