"""One member's notifications as server-sent events (`GET /events/`).

The stream opens with `event: unread` (the unread count); then each new notification is
`id: <notification id>`, `event: notification`, `data: {"id", "kind", "lead_id", "url", "opens",
"message", "count", "created_at", "unread"}` (`url`: what the notification opens, `opens`:
"lead" or "queue"; both "" for nothing), and a comment line is sent when nothing else was
for HEARTBEAT_S. Rows are read from the database, never from the wake-up messages, so a client
resuming with `Last-Event-ID` (or `?after=`) gets every notification it missed. Between reads
the stream holds no database connection; it reads when `push.announce` wakes it, and also every
POLL_S without a Redis subscription (so notifications made by another process arrive without
Redis too). A wake-up that names the new notifications makes the stream read just those rows;
otherwise (a heartbeat, a poll, a wake-up without ids) it reads every row after its cursor.
Before it sends notifications, and at each heartbeat, it checks that the listener may still
listen (the member active, the session or token not ended); when not, the stream ends.
"""

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.db import connection

from leadloop.core.models import Member
from leadloop.notifications.models import Notification
from leadloop.notifications.push import hub
from leadloop.notifications.selectors import (
    notification_last_id,
    notifications_after,
    notifications_among,
    unread_count,
)
from leadloop.notifications.services import notification_link

HEARTBEAT_S = 15.0
POLL_S = 1.0  # without a Redis subscription
LATE_COMMIT_S = 30.0  # how long a row may stay invisible after rows with higher ids
RETRY_MS = 2000  # how long a browser waits before it reconnects
BATCH = 100


class Cursor:
    """How far a stream has read.

    Ids are handed out when rows are inserted, not when they commit: on PostgreSQL a row can
    become visible after one with a higher id. So the stream reads again from where it stood
    LATE_COMMIT_S ago (the floor) and skips the rows it sent since.
    """

    def __init__(self, last: int):
        self.last = last
        self.sent: set[int] = set()
        self._marks: deque[tuple[float, int]] = deque([(time.monotonic(), last)])

    @property
    def floor(self) -> int:
        return self._marks[0][1]

    def advance(self, ids: list[int]) -> None:
        now = time.monotonic()
        self.last = max([self.last, *ids])
        self._marks.append((now, self.last))
        while len(self._marks) > 1 and self._marks[1][0] <= now - LATE_COMMIT_S:
            self._marks.popleft()
        self.sent = {i for i in [*self.sent, *ids] if i > self.floor}


async def _db(read: Callable, *args):
    """Run `read` in the request's database thread; its connection goes back at once, as an
    open stream must not keep one while it waits."""

    def run():
        try:
            return read(*args)
        finally:
            connection.close()

    return await sync_to_async(run)()


def _start(member: Member, after: int | None) -> tuple[Cursor, int]:
    last = notification_last_id(member=member) if after is None else after
    return Cursor(last), unread_count(member=member)


def _read(
    member: Member,
    cursor: Cursor,
    allowed: Callable[[], bool],
    check: bool,
    announced: set[int] | None,
) -> tuple[list[Notification], int] | None:
    """The notifications to send and the unread count: those `announced` not sent yet, or all
    after the cursor when None. None once `allowed` says no (asked when there is something to
    send, or when `check`)."""
    if announced is None:
        notes = notifications_after(
            member=member, after_id=cursor.floor, skip=cursor.sent, limit=BATCH
        )
        unread = None
    else:
        notes, unread = notifications_among(member=member, ids=announced - cursor.sent)
    if (notes or check) and not allowed():
        return None
    if not notes:
        return notes, 0
    return notes, unread_count(member=member) if unread is None else unread


def sse(event: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def notification_data(note: Notification, unread: int, zone: ZoneInfo) -> dict:
    url, opens = notification_link(note)
    return {
        "id": note.pk,
        "kind": note.kind,
        "lead_id": note.lead_id,
        "url": url,
        "opens": opens,
        "message": note.message,
        "count": note.count,
        "created_at": note.created_at.astimezone(zone).isoformat(),
        "unread": unread,
    }


async def notification_events(
    *, member: Member, after: int | None, allowed: Callable[[], bool]
) -> AsyncIterator[str]:
    """The event stream of `member`, from the notification after `after` (None: from now),
    for as long as `allowed()` (run in a database thread) holds."""
    zone = ZoneInfo(member.workspace.time_zone)
    loop = asyncio.get_running_loop()
    async with hub.listening(member.pk) as waiter:  # before the first read: nothing slips by
        cursor, unread = await _db(_start, member, after)
        # the id makes a browser that reconnects before any notification resume from here
        yield f"retry: {RETRY_MS}\n" + sse("unread", {"unread": unread}, cursor.last)
        written, announced = time.monotonic(), None
        while True:
            quiet = time.monotonic() - written >= HEARTBEAT_S
            announced = None if quiet else announced  # a heartbeat reads everything
            read = await _db(_read, member, cursor, allowed, quiet, announced)
            if read is None:
                return
            notes, unread = read
            top = cursor.last
            for note in notes:  # a late row keeps the event id from going back
                top = max(top, note.pk)
                yield sse("notification", notification_data(note, unread, zone), top)
            cursor.advance([note.pk for note in notes])
            if announced is None and len(notes) == BATCH:
                continue
            if notes:
                written = time.monotonic()
            elif quiet:
                yield ": heartbeat\n\n"
                written = time.monotonic()
            announced = await waiter.wait(HEARTBEAT_S if hub.relaying(loop) else POLL_S)
