"""Reading event streams from the in-process ASGI server, and making notifications."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from django.db import transaction

from leadloop.core.access import Actor
from leadloop.core.services import token_create
from leadloop.notifications.models import Notification
from leadloop.notifications.services import notification_new, notifications_publish

READ_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Event:
    event: str = "message"
    id: str | None = None
    data: dict | None = None
    retry: str | None = None
    comment: str | None = None


class Events:
    """The events of an open stream, one at a time; each read waits READ_TIMEOUT_S at most."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self._lines = response.iter_lines()

    def next(self) -> Event:
        fields, comments = {}, []
        for line in self._lines:
            if line == "":
                if fields or comments:
                    data = fields.pop("data", None)
                    return Event(
                        **fields,
                        data=json.loads(data) if data is not None else None,
                        comment="\n".join(comments) or None,
                    )
                continue
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            name, _colon, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def notifications(self, count: int) -> list[Event]:
        """The next `count` notification events (other events and comments are skipped)."""
        found = []
        while len(found) < count:
            event = self.next()
            if event.event == "notification":
                found.append(event)
        return found


@contextmanager
def stream(url: str, *, headers=None, cookies=None, params=None) -> Iterator[Events]:
    """`GET /events/` on `url`; the first event (the unread count) is read already."""
    with (
        httpx.Client(timeout=READ_TIMEOUT_S, cookies=cookies) as client,
        client.stream("GET", f"{url}/events/", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Events(response)
        events.first = events.next()
        yield events


def member_key(team, role: str) -> str:
    """A new API token acting as the member of `role`."""
    member = team.members[role]
    _token, key = token_create(
        workspace=team.workspace,
        actor=Actor.system(team.workspace),
        name=f"{role} stream",
        role=member.role,
        member=member,
    )
    return key


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def notify(member, message: str = "Hello", *, lead=None, publish: bool = True) -> Notification:
    """A notification saved and committed as the services do; `publish=False` makes it as
    another process would (the row only, no wake-up in this one)."""
    with transaction.atomic():
        note = notification_new(member=member, kind="lead_assigned", lead=lead, message=message)
        note.save()
        if publish:
            notifications_publish([note])
    return note
