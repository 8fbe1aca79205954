"""Through the ASGI server, a finished API request or webhook delivery is freed by reference
counting: none is left for Python's cycle collector, whose collections of thousands of them
paused every request of a web process for ~130 ms. (A rendered page still leaves its template
context to the collector: Django's `Context` and its dicts refer to each other.)"""

import gc
import json
import socket
import threading
import time
import weakref
from urllib.parse import urlsplit

import httpx
import pytest

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


def test_a_lead_whose_sender_hung_up_is_still_stored(team, asgi_url, monkeypatch):
    """The view goes on in its thread after the client is gone (a sender timing out), and the
    request is taken apart only once it is done: the lead is stored."""
    from leadloop.config import api as config_api

    authenticating, hung_up = threading.Event(), threading.Event()
    authenticate = config_api.token_authenticate

    def authenticate_after_hang_up(key):
        authenticating.set()
        assert hung_up.wait(WAIT_S)
        time.sleep(0.3)  # the server notices, cancels the answer and ends the request
        return authenticate(key)

    monkeypatch.setattr(config_api, "token_authenticate", authenticate_after_hang_up)
    body = json.dumps({"full_name": "Đỗ Hải Yến", "phone": "0913 222 333"}).encode()
    key = member_key(team, "admin")
    host, port = urlsplit(asgi_url).hostname, urlsplit(asgi_url).port
    with socket.create_connection((host, port), timeout=WAIT_S) as client:
        client.sendall(
            b"POST /api/v1/leads HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert authenticating.wait(WAIT_S)
    hung_up.set()
    deadline = time.monotonic() + WAIT_S
    while not Lead.objects.filter(contact__phone_e164="+84913222333").exists():
        assert time.monotonic() < deadline, "the lead was lost with its request"
        time.sleep(0.05)
