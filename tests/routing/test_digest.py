"""The SLA worker's alerts come as one summary per member and kind when there are many."""

from datetime import timedelta

import pytest
from django.core import mail

from leadloop.core import clock
from leadloop.core.services import member_update
from leadloop.notifications.models import Notification
from leadloop.notifications.services import (
    notification_link,
    notification_new,
    notifications_mark_read,
)
from leadloop.routing import sla
from leadloop.routing.models import Timer
from leadloop.routing.sla import queue_wake, timers_fire_due
from tests.core.support import capture, phone

LATE = timedelta(minutes=16)  # past the default 15 minutes to the first contact


@pytest.fixture
def manager(team, worker):
    """The manager, in English, asking for e-mail; tasks run as they are enqueued."""
    member = team.members["manager"]
    member.language, member.email_notifications = "en", True
    member.save(update_fields=["language", "email_notifications"])
    return member


def misses(member):
    return Notification.objects.filter(kind="sla_breach", member=member)


def test_a_backlog_of_misses_is_one_summary_that_counts_later_ones_until_read(
    team, manager, django_capture_on_commit_callbacks
):
    leads = [capture(team, phone=phone(n)).lead for n in range(6)]
    with clock.travel(LATE), django_capture_on_commit_callbacks(execute=True):
        assert timers_fire_due() == 6
    [summary] = misses(manager)
    assert summary.count == 6 and summary.lead == leads[-1]
    assert summary.message == f"6 SLA misses on open leads, the latest on lead #{leads[-1].pk}"
    [email] = mail.outbox
    assert "6 SLA misses" in email.subject
    for rep in ("sales", "sales2"):  # three misses each: one notification per lead
        assert list(misses(team.members[rep]).values_list("count", flat=True)) == [1, 1, 1]

    later = capture(team, phone=phone(7)).lead
    with clock.travel(LATE), django_capture_on_commit_callbacks(execute=True):
        timers_fire_due()
    [summary] = misses(manager)  # still one row, one e-mail
    assert (summary.count, summary.lead) == (7, later) and len(mail.outbox) == 1
    assert summary.message.startswith("7 SLA misses")

    notifications_mark_read(member=manager)
    last = capture(team, phone=phone(8)).lead
    with clock.travel(LATE):
        timers_fire_due()
    newest = misses(manager).filter(read_at__isnull=True).get()
    assert (newest.count, newest.lead) == (1, last)  # read: the next miss is told on its own


def test_a_summary_an_hour_old_takes_no_more(team, manager):
    for n in range(4):
        capture(team, phone=phone(n))
    with clock.travel(LATE):
        timers_fire_due()
    with clock.travel(timedelta(minutes=61)):
        fresh = [capture(team, phone=phone(n)).lead for n in (9, 10)]
        with clock.travel(LATE):
            timers_fire_due()
    told = sorted((n.count, n.lead_id) for n in misses(manager))
    assert [count for count, _lead in told] == [1, 1, 4]  # the old summary took none
    assert {lead for _count, lead in told[:2]} == {lead.pk for lead in fresh}


def test_a_timer_that_fails_says_nothing(team, manager, monkeypatch):
    def breaks(timer, lead, tick):
        sla._fire_obligation(timer, lead, tick)
        raise RuntimeError("after the alert")

    monkeypatch.setitem(sla._ACTIONS, Timer.Kind.FIRST_CONTACT, breaks)
    for n in range(5):
        capture(team, phone=phone(n))
    with clock.travel(LATE):
        assert timers_fire_due() == 5
    assert not Notification.objects.filter(kind="sla_breach").exists()
    assert Timer.objects.filter(kind="first_contact", fired_at__isnull=False).count() == 5


def test_leads_handed_out_from_the_queue_always_make_a_new_row(team):
    sales = team.members["sales"]
    member_update(member=team.members["sales2"], actor=team.actors["admin"], active=False)

    def hand_out_queued(count: int, start: int) -> None:
        sales.away = True
        sales.save(update_fields=["away"])
        for n in range(start, start + count):
            assert capture(team, phone=phone(n)).lead.owner is None  # waits in the queue
        sales.away = False
        sales.save(update_fields=["away"])
        queue_wake(workspace_id=team.workspace.pk)
        timers_fire_due()

    hand_out_queued(5, start=0)
    hand_out_queued(1, start=5)
    given = Notification.objects.filter(kind="lead_assigned", member=sales, read_at__isnull=True)
    assert sorted(given.values_list("count", flat=True)) == [1, 5]  # the rep's queue refreshes


def test_a_summary_opens_the_latest_lead_it_names_in_every_place(
    team, manager, settings, django_capture_on_commit_callbacks
):
    settings.LEADLOOP_BASE_URL = "https://crm.example"
    leads = [capture(team, phone=phone(n)).lead for n in range(6)]
    with clock.travel(LATE), django_capture_on_commit_callbacks(execute=True):
        timers_fire_due()
    [summary] = misses(manager)
    latest = f"/leads/{leads[-1].pk}/"
    assert notification_link(summary) == (latest, "lead") and f"#{leads[-1].pk}" in summary.message
    assert f'href="{latest}"' in team.browser_client("manager").get("/").content.decode()
    [email] = mail.outbox
    assert f"Open the lead: https://crm.example{latest}" in email.body


@pytest.mark.parametrize(
    ("kind", "with_lead", "expected"),
    [
        ("leads_imported", False, ("/queue/", "queue")),
        ("lead_assigned", True, ("/leads/{id}/", "lead")),
        ("lead_unassigned", True, ("/leads/{id}/", "lead")),
        ("sla_breach", False, ("", "")),
    ],
)
def test_what_each_kind_of_notification_opens(team, kind, with_lead, expected):
    lead = capture(team, phone=phone(1)).lead
    note = notification_new(
        member=team.members["manager"],
        kind=kind,
        lead=lead if with_lead else None,
        message="…",
    )
    url, opens = expected
    assert notification_link(note) == (url.format(id=lead.pk), opens)
    if url:
        assert team.browser_client("manager").get(url.format(id=lead.pk)).status_code == 200
