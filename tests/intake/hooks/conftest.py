"""Fixtures of the webhook tests (helpers in support.py)."""

import pytest
from huey.contrib.djhuey import HUEY

from leadloop.intake.models import Channel
from tests.intake.hooks.support import GraphApi, make_channels


@pytest.fixture
def channels(team) -> dict[str, Channel]:
    return make_channels(team)


@pytest.fixture
def huey_immediate():
    """Tasks run as they are enqueued; delayed ones (retries) wait in HUEY's memory schedule."""
    HUEY.immediate = True
    HUEY.storage.flush_all()
    yield HUEY
    HUEY.storage.flush_all()
    HUEY.immediate = False


@pytest.fixture
def graph(settings):
    api = GraphApi()
    api.start()
    settings.LEADLOOP_FACEBOOK_GRAPH_URL = api.url
    yield api
    api.stop()
