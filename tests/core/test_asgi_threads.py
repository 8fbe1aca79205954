"""The ASGI server runs each request's sync code on a thread kept from earlier requests."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.notifications.support import bearer, member_key


def test_requests_one_after_another_start_no_thread_each(team, asgi_url, monkeypatch):
    started = []
    start = threading.Thread.start

    def counted(thread):
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    headers = bearer(member_key(team, "admin"))
    with httpx.Client(base_url=asgi_url, headers=headers, timeout=10) as client:
        answers = [client.get("/api/v1/stages").status_code for _ in range(20)]
    assert answers == [200] * 20
    # Django's own handler starts two threads a request (40 here). A request that arrives while
    # the one before is still finishing (its answer is sent first) takes another thread.
    assert len(started) <= 4, started


def test_concurrent_requests_each_get_a_thread_and_all_succeed(team, asgi_url):
    headers = bearer(member_key(team, "admin"))

    def ask(_n: int) -> int:
        with httpx.Client(base_url=asgi_url, headers=headers, timeout=10) as client:
            return client.get("/api/v1/stages").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(ask, range(40))) == [200] * 40
