"""GET /events/: a member's notifications as server-sent events, on a real ASGI server."""

import re
import threading
import time
from contextlib import ExitStack

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from leadloop.core.access import Actor
from leadloop.core.management.commands.serve import SHUTDOWN_GRACE_S
from leadloop.core.models import ApiToken
from leadloop.core.services import member_update, token_create, token_revoke
from leadloop.notifications import stream as stream_module
from leadloop.notifications.models import Notification
from leadloop.notifications.push import announce
from leadloop.notifications.selectors import notifications_after
from leadloop.notifications.stream import POLL_S, Cursor
from tests.conftest import AsgiServer
from tests.core.support import ISO_LOCAL
from tests.notifications.support import bearer, member_key, notify, stream
from tests.web.leads import capture


@pytest.fixture(autouse=True)
def _async_safety(monkeypatch):
    """Django refuses database calls from the event loop again (the e2e conftest allows them)."""
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)


def test_a_notification_made_after_the_stream_opened_arrives(team, asgi_url):
    sales = team.members["sales"]
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert (events.first.event, events.first.data) == ("unread", {"unread": 0})
        assert (events.first.id, events.first.retry) == ("0", "2000")
        lead = capture(team, owner="sales", full_name="Nguyễn Văn An")
        note = Notification.objects.get(member=sales, lead=lead)
        [event] = events.notifications(1)
    assert event.id == str(note.pk)
    assert event.data == {
        "id": note.pk,
        "kind": "lead_assigned",
        "lead_id": lead.pk,
        "url": f"/leads/{lead.pk}/",
        "opens": "lead",
        "message": note.message,
        "count": 1,
        "created_at": event.data["created_at"],
        "unread": 1,
    }
    assert "Nguyễn Văn An" in note.message
    assert re.match(ISO_LOCAL, event.data["created_at"])


def test_the_page_session_opens_the_stream_too(team, asgi_url):
    browser = Client()
    browser.force_login(team.members["manager"].user)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    with stream(asgi_url, cookies=cookies) as events:
        note = notify(team.members["manager"], "Xin chào")
        [event] = events.notifications(1)
    assert (event.data["id"], event.data["message"]) == (note.pk, "Xin chào")


def test_last_event_id_resumes_where_the_client_left_off(team, asgi_url):
    sales = team.members["sales"]
    first, second, third = (notify(sales, f"#{n}") for n in range(3))
    key = member_key(team, "sales")
    with stream(asgi_url, headers={**bearer(key), "Last-Event-ID": str(first.pk)}) as events:
        assert (events.first.id, events.first.data) == (str(first.pk), {"unread": 3})
        got = events.notifications(2)
    assert [e.id for e in got] == [str(second.pk), str(third.pk)]
    assert [e.data["message"] for e in got] == ["#1", "#2"]
    with stream(asgi_url, headers=bearer(key), params={"after": second.pk}) as events:
        [event] = events.notifications(1)
        assert event.id == str(third.pk)
        fourth = notify(sales, "#3")  # and it goes on live
        [event] = events.notifications(1)
        assert event.id == str(fourth.pk)


def test_without_a_resume_point_the_stream_starts_now(team, asgi_url):
    sales = team.members["sales"]
    old = notify(sales, "old")
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert (events.first.id, events.first.data) == (str(old.pk), {"unread": 1})
        new = notify(sales, "new")
        [event] = events.notifications(1)
    assert (event.id, event.data["unread"]) == (str(new.pk), 2)


def test_other_members_and_workspaces_notifications_never_arrive(team, other_team, asgi_url):
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        notify(team.members["sales2"], "a colleague's")
        notify(team.members["manager"], "the manager's")
        notify(other_team.members["sales"], "another workspace's")
        mine = notify(team.members["sales"], "mine")
        [event] = events.notifications(1)  # ids increase: the others would have come first
    assert (event.data["id"], event.data["message"]) == (mine.pk, "mine")


def test_a_wake_up_naming_other_members_rows_sends_none_of_them(team, other_team, asgi_url):
    """The ids in a wake-up only say where to look: the rows are read for the stream's member,
    so a wrong or forged id list never shows anyone else's notifications."""
    sales = team.members["sales"]
    theirs = [
        notify(team.members["sales2"], "a colleague's", publish=False),
        notify(other_team.members["sales"], "another workspace's", publish=False),
    ]
    key = member_key(team, "sales")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stream_module, "POLL_S", 3600)  # only the wake-ups read
        with stream(asgi_url, headers=bearer(key)) as events:
            mine = notify(sales, "mine", publish=False)
            announce({sales.pk: [*(note.pk for note in theirs), mine.pk]})
            [event] = events.notifications(1)
            announce({sales.pk: [note.pk for note in theirs]})
            more = notify(sales, "and the next", publish=False)
            announce({sales.pk: [more.pk]})
            [following] = events.notifications(1)
    assert (event.data["id"], event.data["unread"]) == (mine.pk, 1)
    assert (following.data["message"], following.data["unread"]) == ("and the next", 2)


def test_idle_streams_hold_no_database_connection(team, asgi_url, settings):
    """More open streams than the PostgreSQL pool has connections (8): all are served, and
    every stream of the member gets the notification."""
    key = member_key(team, "sales")
    with ExitStack() as open_streams:
        tabs = [
            open_streams.enter_context(stream(asgi_url, headers=bearer(key))) for _ in range(12)
        ]
        note = notify(team.members["sales"], "to every tab")
        assert {tab.notifications(1)[0].data["id"] for tab in tabs} == {note.pk}


def test_a_row_written_by_another_process_arrives_within_a_second(team, asgi_url):
    """No Redis: the worker's notifications wake nobody here; the stream reads every second."""
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        note = notify(team.members["sales"], "from the worker", publish=False)
        written = time.monotonic()
        [event] = events.notifications(1)
        waited = time.monotonic() - written
    assert event.data["id"] == note.pk
    assert waited < POLL_S + 0.5


@pytest.mark.postgres
def test_a_row_committed_after_a_higher_id_still_arrives(team, asgi_url):
    """PostgreSQL hands out ids at insert: a slow transaction's row can appear after a later
    one's. The stream reads the recent ids again, so it is not skipped."""
    sales = team.members["sales"]
    inserted, release = threading.Event(), threading.Event()

    def slow_transaction():
        try:
            with transaction.atomic():
                notify(sales, "slow")
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        slow = threading.Thread(target=slow_transaction)
        slow.start()
        assert inserted.wait(10)
        fast = notify(sales, "fast")
        [event] = events.notifications(1)
        assert event.data["message"] == "fast"
        release.set()
        slow.join(10)
        [event] = events.notifications(1)
    assert event.data["message"] == "slow" and event.data["id"] < fast.pk
    assert event.id == str(fast.pk)  # the resume point never goes back


def test_reading_after_a_point_leaves_out_what_was_sent_and_keeps_to_the_limit(team):
    sales, manager = team.members["sales"], team.members["manager"]
    ids = [notify(sales, f"n{n}").pk for n in range(8)]
    notify(manager, "someone else's")
    first = ids[0] - 1

    def read(skip, limit):
        found = notifications_after(member=sales, after_id=first, skip=skip, limit=limit)
        return [note.pk for note in found]

    assert read(set(), 3) == ids[:3]
    assert read(set(ids[:5]), 2) == ids[5:7]  # skipped ids do not count against the limit
    assert read({ids[0], ids[2], ids[4]}, 10) == [ids[1], ids[3], *ids[5:]]
    assert read(set(ids), 5) == []


def test_the_cursor_forgets_what_it_sent_once_it_is_old(monkeypatch):
    cursor = Cursor(10)
    cursor.advance([12, 11])
    assert (cursor.last, cursor.floor, cursor.sent) == (12, 10, {11, 12})
    monkeypatch.setattr(stream_module, "LATE_COMMIT_S", 0)
    cursor.advance([])
    assert (cursor.last, cursor.floor, cursor.sent) == (12, 12, set())


def test_a_quiet_stream_sends_heartbeats(team, asgi_url, monkeypatch):
    monkeypatch.setattr(stream_module, "HEARTBEAT_S", 0.2)
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert events.next().comment == "heartbeat"


def test_an_open_stream_does_not_keep_the_server_from_stopping(team, transactional_db):
    server = AsgiServer()  # as `leadloop serve` configures it
    with stream(server.url, headers=bearer(member_key(team, "sales"))):
        asked = time.monotonic()
        server.stop()
        assert not server.thread.is_alive()
        assert time.monotonic() - asked < SHUTDOWN_GRACE_S + 3


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_who_may_not_open_a_stream(team, other_team, asgi_url):
    events_url = f"{asgi_url}/events/"
    get = httpx.Client(timeout=5).get
    assert _error(get(events_url), 401)["code"] == "unauthorized"
    assert get(events_url).headers["www-authenticate"] == "Bearer"
    assert _error(get(events_url, headers=bearer("ll_nonsense_key")), 401)
    assert _error(get(events_url, headers={"Authorization": "Basic eDp5"}), 401)

    system = Actor.system(team.workspace)
    _token, integration = token_create(
        workspace=team.workspace, actor=system, name="zapier", role="marketer"
    )
    assert _error(get(events_url, headers=bearer(integration)), 403)["code"] == "forbidden"

    revoked = member_key(team, "sales")
    token_revoke(token=ApiToken.objects.latest("id"), actor=system)
    assert _error(get(events_url, headers=bearer(revoked)), 401)

    key = member_key(team, "sales2")
    member_update(member=team.members["sales2"], actor=team.actors["admin"], active=False)
    assert _error(get(events_url, headers=bearer(key)), 401)  # as on the API

    stranger = Client()
    stranger.force_login(get_user_model().objects.create_user("nobody@example.com"))
    cookies = {"sessionid": stranger.cookies["sessionid"].value}
    assert _error(httpx.get(events_url, cookies=cookies), 403)


def test_deactivating_the_member_ends_their_open_stream_before_anything_more_arrives(
    team, asgi_url
):
    sales = team.members["sales"]
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert events.first.event == "unread"  # the stream is open
        member_update(member=sales, actor=team.actors["admin"], active=False)
        notify(sales, "after leaving")
        with pytest.raises(EOFError):
            events.next()


def test_revoking_the_token_ends_the_stream_it_opened(team, asgi_url, monkeypatch):
    monkeypatch.setattr(stream_module, "HEARTBEAT_S", 0.2)  # checked at each heartbeat too
    with stream(asgi_url, headers=bearer(member_key(team, "sales"))) as events:
        assert events.next().comment == "heartbeat"
        token_revoke(token=ApiToken.objects.latest("id"), actor=Actor.system(team.workspace))
        with pytest.raises(EOFError):
            for _heartbeat in range(25):  # five seconds of heartbeats at most
                events.next()


def test_logging_out_ends_the_pages_stream(team, asgi_url):
    browser = Client()
    browser.force_login(team.members["manager"].user)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    with stream(asgi_url, cookies=cookies) as events:
        assert events.first.event == "unread"
        browser.logout()
        notify(team.members["manager"], "after logging out")
        with pytest.raises(EOFError):
            events.next()


def test_a_wsgi_server_answers_that_it_cannot_stream(team):
    """Under WSGI (Django's test client, runserver, gunicorn) the endless stream would be read
    whole before anything is sent: the page's script gets a clear refusal instead."""
    response = team.browser_client("sales").get("/events/")
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "asgi_required"
