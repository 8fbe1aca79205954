"""Fixtures of the webhook tests (helpers in support.py)."""

import pytest

from leadloop.intake.models import Channel
from tests.core.support import immediate_huey
from tests.intake.hooks.support import graph_api, make_channels


@pytest.fixture
def channels(team) -> dict[str, Channel]:
    return make_channels(team)


@pytest.fixture
def huey_immediate():
    with immediate_huey() as huey:
        yield huey


@pytest.fixture
def graph(settings):
    with graph_api(settings) as api:
        yield api
