"""Waking streams: in this process from any thread, across processes through Redis pub/sub."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
import redis

from leadloop.notifications import stream as stream_module
from leadloop.notifications.push import CHANNEL, announce, hub, sender
from tests.core.support import wait_for
from tests.notifications.support import bearer, member_key, notify, stream


@pytest.fixture
def no_redis(settings):
    settings.REDIS_URL = ""


def test_announce_from_a_worker_thread_wakes_only_that_members_streams(no_redis):
    announcer = threading.Thread(target=announce, args=({7: [12, 11], 9: [13]},))

    async def main():
        async with hub.listening(7) as mine, hub.listening(8) as other:
            announcer.start()
            return await mine.wait(5), other.event.is_set()

    assert asyncio.run(main()) == ({11, 12}, False)  # the stream is told which rows are new
    announcer.join(5)  # before the next test sets REDIS_URL, which the thread reads last


def test_a_wait_without_ids_asks_for_everything_after_the_cursor(no_redis):
    """A poll or heartbeat that nobody woke, and a wake-up without ids (Redis came back, or an
    older process announced), make the stream read all its rows, not just some."""

    async def main():
        async with hub.listening(7) as waiter:
            timed_out = await waiter.wait(0.01)
            hub.wake({7: [5]})
            hub.wake({7: []})
            mixed = await waiter.wait(5)
            hub.wake({7: [6]})
            named = await waiter.wait(5)
            return timed_out, mixed, named

    assert asyncio.run(main()) == (None, None, {6})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_server():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    try:
        assert wait_for(up, 10), "redis-server did not start"
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(10)


@pytest.fixture
def redis_url(redis_server, settings):
    settings.REDIS_URL = redis_server
    return redis_server


def _subscribed(url: str) -> bool:
    return dict(redis.Redis.from_url(url).pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) > 0


def test_announce_publishes_the_members_and_their_notification_ids(redis_url):
    pubsub = redis.Redis.from_url(redis_url).pubsub()
    pubsub.subscribe(CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    announce({5: [9, 8], 3: [7]})
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    assert json.loads(message["data"]) == {
        "from": sender(),
        "members": [3, 5],  # what processes of the previous version read
        "notes": {"3": [7], "5": [8, 9]},
    }


def test_what_another_process_announces_wakes_the_streams_here(team, asgi_url, redis_url):
    """The worker is another process: its notification reaches this server through Redis."""
    sales = team.members["sales"]
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert wait_for(lambda: _subscribed(redis_url))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(stream_module, "POLL_S", 3600)  # only a wake-up can bring it now
            patch.setattr(stream_module, "HEARTBEAT_S", 3600)
            note = notify(sales, "from the worker", publish=False)
            announced = {sales.pk: [note.pk]}
            worker = f"from leadloop.notifications.push import announce; announce({announced})"
            env = {
                **os.environ,
                "REDIS_URL": redis_url,
                "DJANGO_SETTINGS_MODULE": "leadloop.config.settings",
            }
            subprocess.run(
                [sys.executable, "-c", f"import django; django.setup(); {worker}"],
                env=env,
                check=True,
                timeout=60,
            )
            [event] = events.notifications(1)
    assert event.data["id"] == note.pk


def test_without_a_reachable_redis_announce_still_wakes_this_process(team, asgi_url, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_free_port()}/0"  # nobody listens there
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        note = notify(team.members["sales"], "Redis is down")
        [event] = events.notifications(1)
    assert event.data["id"] == note.pk


def test_a_message_of_an_older_process_with_member_ids_only_still_wakes_the_stream(
    team, asgi_url, redis_url
):
    """During an upgrade a worker of the previous version publishes member ids without the
    notification ids: the stream reads everything after its cursor."""
    sales = team.members["sales"]
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert wait_for(lambda: _subscribed(redis_url))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(stream_module, "POLL_S", 3600)
            patch.setattr(stream_module, "HEARTBEAT_S", 3600)
            note = notify(sales, "from the old worker", publish=False)
            message = json.dumps({"from": "an-older-process", "members": [sales.pk]})
            redis.Redis.from_url(redis_url).publish(CHANNEL, message)
            [event] = events.notifications(1)
    assert event.data["id"] == note.pk
