"""Helpers shared by the core-engine tests: times, captures through the service, error checks."""

import threading
import time as timer
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.intake.services import Captured, Submission, lead_capture

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ISO_LOCAL = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+07:00$"


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """An aware moment on `day` in the workspace time zone (Asia/Ho_Chi_Minh)."""
    return datetime.combine(day, time(hour, minute), tzinfo=HCM)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run the block with the clock set (approximately, to the millisecond) to `moment`."""
    with clock.travel(moment - timezone.now()):
        yield


def phone(n: int) -> str:
    """A valid, distinct Vietnamese mobile number (VinaPhone 091 prefix)."""
    return f"091{n:07d}"


def capture(team, role: str = "admin", **fields) -> Captured:
    """Capture one submission through the service, acting as `role` of `team`."""
    utm = {k: fields.pop(k) for k in list(fields) if k.startswith("utm_")}
    actor = team.actors[role] if role in team.actors else Actor.system(team.workspace)
    return lead_capture(
        workspace=team.workspace,
        actor=actor,
        submission=Submission(**fields, utm=utm),
        raw=dict(fields),
    )


def assert_error(response, status: int | None = None, code: str | None = None) -> dict:
    """A 4xx JSON answer with the contract's error shape; returns the `error` object."""
    assert response.status_code < 500, response.content[:500]
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert error["code"] == error["code"].lower() and " " not in error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["fields"], dict), error
    for name, messages in error["fields"].items():
        assert isinstance(name, str)
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), error
    if code is not None:
        assert error["code"] == code, error
    return error


def database_url() -> str:
    """The test database as a DATABASE_URL, for the CLI run in a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def burst(n: int, work) -> list:
    """Run work(i) in n threads released at the same instant; re-raise any failure."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def three_more_reps(team) -> None:
    """Sales reps Ba, Bon and Nam beside the team's two: five in all."""
    from leadloop.core.services import member_create

    for name in ("Ba", "Bon", "Nam"):
        member_create(
            workspace=team.workspace,
            actor=team.actors["admin"],
            email=f"{name.lower()}@acme.test",
            full_name=name,
            role="sales",
        )


@contextmanager
def immediate_huey():
    """Tasks run as they are enqueued; delayed ones (retries) wait in HUEY's memory schedule."""
    HUEY.immediate = True
    HUEY.storage.flush_all()
    try:
        yield HUEY
    finally:
        HUEY.storage.flush_all()
        HUEY.immediate = False


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> bool:
    """Whether `condition()` came true within `seconds` (asked every 50 ms)."""
    deadline = timer.monotonic() + seconds
    while timer.monotonic() < deadline:
        if condition():
            return True
        timer.sleep(0.05)
    return False


def estimated_rows(table: str) -> float:
    """PostgreSQL's statistics of a table: the rows its last ANALYZE (or VACUUM) counted."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]
