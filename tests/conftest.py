"""Shared fixtures: a workspace with one member of each role, tokens, and API clients."""

import json
import os
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from leadloop.core.access import Actor
from leadloop.core.management.commands.serve import SHUTDOWN_GRACE_S
from leadloop.core.services import member_create, token_create, workspace_create
from tests.core.support import immediate_huey

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session", autouse=True)
def _test_settings():
    """Plain HTTP to the test and live servers (no HTTPS redirect, no secure-only cookies), and a
    cheap password hash: Argon2 is slow on purpose and every fixture member gets a password.
    Session-wide, so a live server started by any test is built with these settings."""
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ):
        yield


def pytest_collection_modifyitems(config, items):
    on_postgres = "postgres" in os.environ.get("DATABASE_URL", "")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


class ApiClient:
    """A JSON client for /api/v1 with a bearer token."""

    def __init__(self, key: str):
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, body=None, *, raw: str | bytes | None = None, **headers):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            f"/api/v1{path}", data=data, content_type="application/json", headers=headers
        )


class Team:
    """A workspace with an admin, a manager, a marketer and two sales reps."""

    def __init__(self, slug: str):
        self.workspace = workspace_create(slug=slug, name=slug.title())
        system = Actor.system(self.workspace)
        self.members = {}
        for role, name in [
            ("admin", "Admin"),
            ("manager", "Quản Lý"),
            ("marketer", "Marketer"),
            ("sales", "Sales Một"),
            ("sales2", "Sales Hai"),
        ]:
            self.members[role] = member_create(
                workspace=self.workspace,
                actor=system,
                email=f"{role}@{slug}.test",
                full_name=name,
                role=role.rstrip("2"),
                team="Sales" if "sales" in role else None,
                password=PASSWORD,
            )
        self.actors = {role: Actor.of(m) for role, m in self.members.items()}

    def api(self, role: str) -> ApiClient:
        member = self.members[role]
        _token, key = token_create(
            workspace=self.workspace,
            actor=Actor.system(self.workspace),
            name=role,
            role=member.role,
            member=member,
        )
        return ApiClient(key)

    def browser_client(self, role: str) -> Client:
        client = Client()
        client.force_login(self.members[role].user)
        return client


@pytest.fixture
def worker():
    """The worker's tasks run as they are enqueued (Huey's immediate mode, in memory)."""
    with immediate_huey():
        yield


@pytest.fixture
def team(db) -> Team:
    return Team("acme")


@pytest.fixture
def other_team(db) -> Team:
    return Team("rival")


@pytest.fixture
def admin_api(team) -> ApiClient:
    return team.api("admin")


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def marketer_key(team) -> str:
    _token, key = token_create(
        workspace=team.workspace,
        actor=Actor.system(team.workspace),
        name="load",
        role="marketer",
        member=team.members["marketer"],
    )
    return key


@pytest.fixture
def post(live_server, marketer_key):
    """POST one lead to /api/v1/leads of a live server, as the marketer."""
    base = {"Authorization": f"Bearer {marketer_key}"}

    def post(body: dict, **headers) -> httpx.Response:
        with httpx.Client(
            base_url=live_server.url, timeout=60, headers={**base, **headers}
        ) as client:
            return client.post("/api/v1/leads", json=body)

    return post


class AsgiServer:
    """The ASGI application on uvicorn, as `leadloop serve` runs it, in a thread of this process
    (so on the test database): pytest-django's live server is WSGI, which cannot stream."""

    def __init__(self):
        from leadloop.config.asgi import application

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and self.thread.is_alive():
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(SHUTDOWN_GRACE_S + 10)
        self.socket.close()


@pytest.fixture(scope="session")
def asgi_server():
    server = AsgiServer()
    yield server
    server.stop()


@pytest.fixture
def asgi_url(asgi_server, transactional_db) -> str:
    """The in-process ASGI server's address; the test's rows are committed, so it sees them."""
    return asgi_server.url
