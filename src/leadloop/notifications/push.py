"""Waking members' open event streams, in this process and, through Redis, in every other.

`announce` runs after a commit, in whatever thread and process made the notifications (a web
request, the worker). Each open stream waits on an asyncio event in its server's event loop:
`announce` sets the events of this process's streams with `call_soon_threadsafe` and, when
`REDIS_URL` is set, publishes the member ids with their new notification ids on a Redis channel.
Every web process with open streams subscribes to that channel (one connection per event loop,
kept while it has streams) and wakes its own streams for what the others published.

A wake-up only tells a stream which rows to read: the rows are the truth, so a lost message
costs latency, never a notification. A stream woken with ids reads just those rows; one woken
without ids (after Redis came back, or by an older process) reads everything after its cursor.
Streams re-read every second when no subscription is listening (no Redis, or Redis unreachable)
and at every heartbeat when one is.
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
    """One open stream: whose notifications it shows, the event its loop waits on and the
    notification ids announced since it last looked."""

    member_id: int
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)
    announced: set[int] = field(default_factory=set)
    read_all: bool = False  # a wake-up without ids came

    async def wait(self, timeout: float) -> set[int] | None:
        """Until woken or `timeout` seconds passed: the notification ids announced meanwhile,
        or None when the stream should read everything after its cursor."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()
        ids, read_all = self.announced, self.read_all
        self.announced, self.read_all = set(), False
        return None if read_all or not ids else ids

    def wake(self, ids: Iterable[int] = ()) -> None:
        """From any thread; no ids: read everything."""
        with suppress(RuntimeError):  # its loop has closed: the stream is gone
            self.loop.call_soon_threadsafe(self._woken, list(ids))

    def _woken(self, ids: list[int]) -> None:
        if ids:
            self.announced.update(ids)
        else:
            self.read_all = True
        self.event.set()


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

    def wake(self, announced: dict[int, list[int]]) -> None:
        """Wake the streams of these members with their new notification ids (none: read all)."""
        with self._lock:
            waiters = [(w, ids) for m, ids in announced.items() for w in self._waiters.get(m, ())]
        for waiter, ids in waiters:
            waiter.wake(ids)

    def _wake_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws if w.loop is loop]
        for waiter in waiters:
            waiter.wake()

    def _relayed(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            if message["from"] != sender():
                self.wake(_announced(message))
        except (ValueError, TypeError, KeyError, AttributeError):
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


def _announced(message: dict) -> dict[int, list[int]]:
    """Member id -> notification ids of a published message; a process from before the ids
    were published sends the member ids alone (its streams then read everything)."""
    if "notes" in message:
        return {int(m): [int(i) for i in ids] for m, ids in message["notes"].items()}
    return {int(m): [] for m in message["members"]}


hub = Hub()


@cache
def _publisher(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def announce(announced: dict[int, list[int]]) -> None:
    """Tell every web process that these members have these new notifications (member id ->
    notification ids). Never raises."""
    announced = {member: sorted(ids) for member, ids in sorted(announced.items())}
    hub.wake(announced)
    if settings.REDIS_URL:
        notes = {str(member): ids for member, ids in announced.items()}
        # "members" too, for web processes of the previous version during an upgrade
        message = json.dumps({"from": sender(), "members": list(announced), "notes": notes})
        try:
            _publisher(settings.REDIS_URL).publish(CHANNEL, message)
        except redis.RedisError as exc:  # the streams still find the rows when they poll
            log.warning("could not publish notifications for %s: %s", list(announced)[:20], exc)
