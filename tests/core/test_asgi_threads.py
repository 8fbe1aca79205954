"""The ASGI server runs each request's sync code on a thread kept from earlier requests."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.notifications.support import bearer, member_key


def _executor_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor-")}


def test_requests_one_after_another_reuse_one_thread(team, asgi_url):
    headers = bearer(member_key(team, "admin"))
    before = _executor_threads()
    with httpx.Client(base_url=asgi_url, headers=headers, timeout=10) as client:
        answers = [client.get("/api/v1/stages").status_code for _ in range(20)]
    kept = _executor_threads() - before
    assert answers == [200] * 20
    assert 1 <= len(kept) <= 2  # Django's own handler starts and stops a thread per request


def test_concurrent_requests_each_get_a_thread_and_all_succeed(team, asgi_url):
    headers = bearer(member_key(team, "admin"))

    def ask(_n: int) -> int:
        with httpx.Client(base_url=asgi_url, headers=headers, timeout=10) as client:
            return client.get("/api/v1/stages").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(ask, range(40))) == [200] * 40
