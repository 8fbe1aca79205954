"""Through the ASGI server, a finished API request or webhook delivery is freed by reference
counting: none is left for Python's cycle collector, whose collections of thousands of them
paused every request of a web process for ~130 ms. (A rendered page still leaves its template
context to the collector: Django's `Context` and its dicts refer to each other.)"""

import asyncio
import gc
import json
import socket
import threading
import time
import weakref
from contextlib import suppress
from urllib.parse import urlsplit

import httpx
import pytest
from django.db import connections

from leadloop.intake.services import channel_create
from leadloop.pipeline.models import Lead
from tests.core.support import capture
from tests.notifications.support import bearer, member_key

WAIT_S = 5


@pytest.fixture
def made_requests(asgi_server, monkeypatch) -> list[weakref.ref]:
    """A weak reference to every request the server makes."""
    from leadloop.config.asgi import OneHopHandler

    made, create = [], OneHopHandler.create_request

    def recorded(handler, scope, body_file):
        request, error_response = create(handler, scope, body_file)
        made.append(weakref.ref(request))
        return request, error_response

    monkeypatch.setattr(OneHopHandler, "create_request", recorded)
    return made


@pytest.fixture
def no_cycle_collector():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def alive_after_answers(made: list[weakref.ref]) -> int:
    """How many requests are still alive once the server is done with them (it finishes a
    request just after its answer is sent)."""
    deadline = time.monotonic() + WAIT_S
    while (alive := sum(ref() is not None for ref in made)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


def test_api_requests_are_freed_without_the_cycle_collector(
    team, other_team, asgi_url, made_requests, no_cycle_collector
):
    headers = bearer(member_key(team, "admin"))
    foreign = capture(other_team, full_name="Trần Văn Nam", phone="0987654321").lead.pk
    with httpx.Client(base_url=asgi_url, headers=headers, timeout=10) as client:
        lead = {"full_name": "Lê Thị Hoa", "phone": "0912345678"}
        created = client.post("/api/v1/leads", json=lead)
        listed = client.get("/api/v1/leads")
        missing = client.get(f"/api/v1/leads/{foreign}")
        refused = client.post("/api/v1/leads", content=b"{not json")
    assert [r.status_code for r in (created, listed, missing, refused)] == [201, 200, 404, 400]
    assert len(made_requests) == 4
    assert alive_after_answers(made_requests) == 0


def test_webhook_deliveries_are_freed_too(team, asgi_url, made_requests, no_cycle_collector):
    form = channel_create(
        workspace=team.workspace,
        actor=team.actors["marketer"],
        kind="form",
        name="Landing Tết",
        settings={"allowed_origins": []},
    )
    path = f"/hooks/{team.workspace.slug}/forms/{form.key}"
    with httpx.Client(base_url=asgi_url, timeout=10) as client:
        posted = client.post(path, json={"ho_ten": "Phạm Minh Châu", "sdt": "0903 123 456"})
        broken = client.post(path, content=b"{", headers={"Content-Type": "application/json"})
    assert (posted.status_code, broken.status_code) == (200, 400)
    assert len(made_requests) == 2
    assert alive_after_answers(made_requests) == 0


@pytest.fixture
def held_in_view(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """(in the view, let go): an API request waits in its view, on the worker thread, until the
    test lets it go."""
    from leadloop.config import api as config_api

    in_view, let_go = threading.Event(), threading.Event()
    authenticate = config_api.token_authenticate

    def authenticate_when_let_go(key):
        in_view.set()
        assert let_go.wait(WAIT_S)
        return authenticate(key)

    monkeypatch.setattr(config_api, "token_authenticate", authenticate_when_let_go)
    return in_view, let_go


def stored(phone_e164: str) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not Lead.objects.filter(contact__phone_e164=phone_e164).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


LEAD = {"full_name": "Đỗ Hải Yến", "phone": "0913 222 333"}
LEAD_E164 = "+84913222333"


def test_a_lead_whose_sender_hung_up_is_still_stored(team, asgi_url, held_in_view, monkeypatch):
    """The view goes on in its thread after the client is gone (a sender timing out); the
    request it reads is not taken apart under it."""
    from leadloop.config.asgi import OneHopHandler

    in_view, let_go = held_in_view
    hung_up_seen, listen = threading.Event(), OneHopHandler.listen_for_disconnect

    async def listen_noted(handler, receive):
        await listen(handler, receive)
        hung_up_seen.set()

    monkeypatch.setattr(OneHopHandler, "listen_for_disconnect", listen_noted)
    body = json.dumps(LEAD).encode()
    key = member_key(team, "admin")
    host, port = urlsplit(asgi_url).hostname, urlsplit(asgi_url).port
    with socket.create_connection((host, port), timeout=WAIT_S) as client:
        client.sendall(
            b"POST /api/v1/leads HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert in_view.wait(WAIT_S)
    assert hung_up_seen.wait(WAIT_S)  # the server knows, and has cancelled the answer
    let_go.set()
    assert stored(LEAD_E164), "the lead was lost with its request"


def test_a_lead_in_its_view_when_the_server_stops_is_still_stored(
    team, transactional_db, held_in_view
):
    """At shutdown uvicorn cancels the requests still running; a view in its thread goes on,
    and its request must stay whole until it is done."""
    from leadloop.config.asgi import application

    in_view, let_go = held_in_view
    key = member_key(team, "admin")
    body = json.dumps(LEAD).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/leads",
        "raw_path": b"/api/v1/leads",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def stopped_in_its_view() -> bool:
        arrived = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            if arrived:
                return arrived.pop()
            await asyncio.Event().wait()  # the client stays: no disconnect

        async def send(message):
            pass

        request = asyncio.create_task(application(scope, receive, send))
        assert await asyncio.to_thread(in_view.wait, WAIT_S)
        request.cancel()  # as uvicorn does once the grace period is over
        with suppress(asyncio.CancelledError):
            await request
        let_go.set()
        return await asyncio.to_thread(stored_then_closed)

    def stored_then_closed() -> bool:
        try:
            return stored(LEAD_E164)
        finally:
            connections.close_all()  # this thread's

    assert asyncio.run(stopped_in_its_view()), "the lead was lost with its request"
    for executor in application._idle:  # the request's thread, whose answer was never closed
        executor.submit(connections.close_all).result(WAIT_S)
