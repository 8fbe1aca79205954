import os
from importlib import import_module

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.config.settings")


class OneHopHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the views in one worker-thread call.

    Our middleware is synchronous, so Django's own chain goes from the worker thread back to the
    event loop and into the thread again around every view: three hops a request, about a tenth
    of an API request's CPU. Here the whole chain is synchronous and entered once; the async
    views (the event stream) still run on the loop, and their streams are sent from it.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = self.adapt_method_mode(True, self._middleware_chain, False)


django.setup(set_prefix=False)
application = OneHopHandler()
# Import the views and build the API's schemas now, not in the first request (about half a
# second: a restarted server's first webhooks would wait that long for their answer).
import_module(settings.ROOT_URLCONF)
