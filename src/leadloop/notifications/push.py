"""Waking members' open event streams, in this process and, through Redis, in every other.

`announce` runs after a commit, in whatever thread and process made the notifications (a web
request, the worker). Each open stream waits on an asyncio event in its server's event loop:
`announce` sets the events of this process's streams with `call_soon_threadsafe` and, when
`REDIS_URL` is set, publishes the member ids on a Redis channel. Every web process with open
streams subscribes to that channel (one connection per event loop, kept while it has streams)
and wakes its own streams for the ids published by the others.

A wake-up only makes a stream read the database again: the rows are the truth, so a lost message
costs latency, never a notification. Streams re-read every second when no subscription is
listening (no Redis, or Redis unreachable) and at every heartbeat when one is.
"""

import asyncio
import json
import logging
import os
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import cache

import redis
import redis.asyncio
from django.conf import settings

log = logging.getLogger(__name__)

CHANNEL = "leadloop:notifications"
RESUBSCRIBE_S = 1.0  # the pause before subscribing again after Redis went away
_BOOT = uuid.uuid4().hex


def sender() -> str:
    """This process, in the messages it publishes (its own listener skips them)."""
    return f"{_BOOT}-{os.getpid()}"


@dataclass(eq=False)
class Waiter:
    """One open stream: whose notifications it shows, and the event its loop waits on."""

    member_id: int
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout: float) -> None:
        """Until woken or `timeout` seconds passed; ready for the next wait either way."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    def wake(self) -> None:
        """From any thread."""
        with suppress(RuntimeError):  # its loop has closed: the stream is gone
            self.loop.call_soon_threadsafe(self.event.set)


class Hub:
    """The open streams of this process, by member, and each event loop's Redis subscription."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = defaultdict(set)
        self._per_loop: Counter = Counter()
        self._relays: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
        self._relaying: set[asyncio.AbstractEventLoop] = set()

    def relaying(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether other processes' announcements reach the streams of `loop` now."""
        return loop in self._relaying

    @asynccontextmanager
    async def listening(self, member_id: int) -> AsyncIterator[Waiter]:
        """Register a stream for `member_id` while the block runs."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(member_id, loop)
        with self._lock:
            self._waiters[member_id].add(waiter)
            self._per_loop[loop] += 1
            if settings.REDIS_URL and loop not in self._relays:
                self._relays[loop] = loop.create_task(self._relay(settings.REDIS_URL))
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters[member_id].discard(waiter)
                if not self._waiters[member_id]:
                    del self._waiters[member_id]
                self._per_loop[loop] -= 1
                relay = None if self._per_loop[loop] else self._relays.pop(loop, None)
                if not self._per_loop[loop]:
                    del self._per_loop[loop]
            if relay is not None:
                relay.cancel()

    def wake(self, member_ids: Iterable[int]) -> None:
        with self._lock:
            waiters = [w for m in member_ids for w in self._waiters.get(m, ())]
        for waiter in waiters:
            waiter.wake()

    def _wake_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws if w.loop is loop]
        for waiter in waiters:
            waiter.wake()

    def _relayed(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            if message["from"] != sender():
                self.wake({int(m) for m in message["members"]})
        except (ValueError, TypeError, KeyError):
            log.warning("ignored a malformed message on %s: %r", CHANNEL, data[:200])

    async def _relay(self, url: str) -> None:
        """Wake this loop's streams for what other processes announce, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            client = redis.asyncio.Redis.from_url(url, health_check_interval=30)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "subscribe":
                            self._relaying.add(loop)
                        elif message["type"] == "message":
                            self._relayed(message["data"])
            except Exception as exc:  # Redis went away, or said something unexpected
                log.warning("Redis pub/sub unavailable, streams poll the database: %s", exc)
            finally:
                self._relaying.discard(loop)
                await client.aclose()
            self._wake_loop(loop)  # read now, and every second until subscribed again
            await asyncio.sleep(RESUBSCRIBE_S)


hub = Hub()


@cache
def _publisher(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def announce(member_ids: set[int]) -> None:
    """Tell every web process that these members have new notifications. Never raises."""
    ids = sorted(member_ids)
    hub.wake(ids)
    if settings.REDIS_URL:
        message = json.dumps({"from": sender(), "members": ids})
        try:
            _publisher(settings.REDIS_URL).publish(CHANNEL, message)
        except redis.RedisError as exc:  # the streams still find the rows when they poll
            log.warning("could not publish notifications for %s: %s", ids[:20], exc)
