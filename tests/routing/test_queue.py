"""My queue: the member's open leads by urgency, one-tap call outcomes, bounded queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.activities.services import activity_log
from leadloop.core import clock
from leadloop.core.errors import Forbidden
from leadloop.core.services import member_update
from leadloop.pipeline.models import Lead
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.models import Timer
from leadloop.routing.selectors import queue_list
from tests.web.leads import browser, capture, routed_to


def names(leads) -> list[str]:
    return [lead.contact.full_name for lead in leads]


def queue_of(team, role: str = "sales"):
    return list(queue_list(workspace=team.workspace, fetched_by=team.actors[role]))


def test_the_most_urgent_obligation_comes_first_then_the_rest_oldest_first(team):
    sales = team.actors["sales"]
    with clock.travel(timedelta(minutes=-30)):
        oldest = capture(team, owner="sales", full_name="Oldest")  # first contact overdue
    with clock.travel(timedelta(minutes=-20)):
        called_back = capture(team, owner="sales", full_name="No answer")
        reached = capture(team, owner="sales", full_name="Reached")
    fresh = capture(team, owner="sales", full_name="Fresh")  # first contact due in 15 min
    activity_log(lead=called_back, actor=sales, kind="call", outcome="no_answer")  # again in 2h
    activity_log(lead=reached, actor=sales, kind="call", outcome="thinking")  # owes nothing
    capture(team, owner="sales2", full_name="Someone else's")
    lead_change_stage(
        lead=capture(team, owner="sales", full_name="Closed"), actor=sales, stage_key="k4-2"
    )

    queue = queue_of(team)
    assert names(queue) == ["Oldest", "Fresh", "No answer", "Reached"]
    assert [(lead.due_kind, lead.due_attempt) for lead in queue] == [
        ("first_contact", 1),
        ("first_contact", 1),
        ("attempt", 2),
        (None, None),
    ]
    assert queue[0].due_at < clock.now() < queue[1].due_at < queue[2].due_at
    assert queue[3].due_at is None and oldest.pk == queue[0].pk and fresh.pk == queue[1].pk


def test_only_the_members_own_pending_obligations_count(team, other_team):
    lead = capture(team, owner="sales", full_name="Moved")
    Timer.objects.filter(lead=lead).update(member=team.members["sales2"])  # the previous owner's
    assert queue_of(team)[0].due_at is None
    capture(other_team, owner="sales", full_name="Rival")
    assert names(queue_of(team)) == ["Moved"]


def test_marketers_have_no_queue(team):
    with pytest.raises(Forbidden):
        queue_of(team, "marketer")
    assert browser(team, "marketer").get("/queue/").status_code == 403


@pytest.mark.parametrize("role", ["sales", "manager", "admin"])
def test_the_nav_links_to_the_queue_for_those_who_work_leads(team, role):
    html = browser(team, role).get("/").content.decode()
    assert 'href="/queue/"' in html
    assert 'href="/queue/"' not in browser(team, "marketer").get("/").content.decode()


def test_the_queue_page_lists_the_leads_with_what_is_due(team):
    lead = capture(team, owner="sales", full_name="Nguyễn Văn An", phone="0912 345 678")
    response = browser(team, "sales").get("/queue/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nguyễn Văn An" in html and 'href="tel:+84912345678"' in html
    assert f'id="queue-lead-{lead.pk}"' in html and "First contact" in html
    assert 'class="countdown"' in html and "data-due=" in html
    assert html.count('name="call-outcome"') == 7
    assert 'hx-trigger="live-notification from:body"' in html
    assert "/static/web/queue.js" in html and "/static/web/live.js" in html


def test_the_queue_is_translated(team):
    capture(team, owner="sales")
    html = browser(team, "sales", "vi").get("/queue/?lang=vi").content.decode()
    assert "Việc cần làm" in html and "Không nghe máy" in html
    # the countdown's words, for queue.js: "Trễ hạn 3 ngày 4 giờ", not "3 d 4 h"
    assert 'data-overdue="Trễ hạn" data-days="ngày" data-hours="giờ"' in html


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/queue/").status_code == 200
    return len(queries)


def test_the_queue_page_reads_a_bounded_number_of_rows(team):
    client = browser(team, "sales")
    client.get("/")  # the language the member reads in is noted once, on a first page
    for n in range(3):
        capture(team, owner="sales", full_name=f"A{n}")
    few = _queries(client)
    for n in range(12):
        lead = capture(team, owner="sales", full_name=f"B{n}", source="facebook")
        activity_log(lead=lead, actor=team.actors["sales"], kind="call", outcome="no_answer")
    # the session, user, member, the queue; the unread count and the newest notification
    assert _queries(client) == few == 6


def test_htmx_refreshes_only_the_list(team):
    capture(team, owner="sales", full_name="Lan")
    response = browser(team, "sales").get("/queue/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.startswith('<section id="queue"') and "<html" not in html and "Lan" in html
    assert "HX-Request" in response["Vary"]


def test_an_outcome_tap_logs_a_call(team):
    lead = capture(team, owner="sales", full_name="Lan")
    client = browser(team, "sales")
    response = client.post(f"/queue/{lead.pk}/call/", {"call-outcome": "no_answer"})
    assert (response.status_code, response.url) == (302, "/queue/")
    lead.refresh_from_db()
    assert lead.call_attempts == 1 and lead.first_contact_at is not None
    assert f"Call logged on lead #{lead.pk} Lan." in client.get("/queue/").content.decode()
    assert Timer.objects.get(lead=lead, kind="attempt", done_at__isnull=True).attempt == 2


def test_an_outcome_tap_with_htmx_swaps_the_list_and_suggests_the_stage(team):
    lead = capture(team, owner="sales", full_name="Lan")
    response = browser(team, "sales").post(
        f"/queue/{lead.pk}/call/", {"call-outcome": "busy_callback"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<section id="queue"')
    told = f"Call logged on lead #{lead.pk} Lan. Suggested stage: K3 – Busy, call back."
    assert told in html
    assert f'href="/leads/{lead.pk}/?suggest=k3#stage"' in html
    assert Lead.objects.get(pk=lead.pk).call_attempts == 1


def test_outcomes_on_someone_elses_lead_or_unknown_ones_are_refused(team):
    theirs = routed_to(team, "sales2")
    mine = capture(team, owner="sales")
    client = browser(team, "sales")
    assert client.post(f"/queue/{theirs.pk}/call/", {"call-outcome": "bought"}).status_code == 404
    assert client.post(f"/queue/{mine.pk}/call/", {"call-outcome": "nonsense"}).status_code == 422
    assert client.post(f"/queue/{mine.pk}/call/", {"call-outcome": ""}).status_code == 422
    assert client.post(f"/queue/{mine.pk}/call/", {}).status_code == 422
    assert client.get(f"/queue/{mine.pk}/call/").status_code == 405
    assert Lead.objects.get(pk=mine.pk).call_attempts == 0


def test_an_inactive_rep_is_signed_out_of_the_queue(team):
    member_update(member=team.members["sales"], actor=team.actors["admin"], active=False)
    assert browser(team, "sales").get("/queue/").status_code == 403


def test_the_queue_says_how_many_less_urgent_leads_it_leaves_out(team, monkeypatch):
    monkeypatch.setattr("leadloop.web.views.QUEUE_SIZE", 2)
    for n in range(5):
        capture(team, owner="sales", full_name=f"Khách {n}")
    html = browser(team, "sales").get("/queue/?lang=en").content.decode()
    assert "3 more open leads, less urgent, are not shown here." in html
    assert 'href="/leads/?owner=me&amp;open=true"' in html
    Lead.objects.filter(owner=team.members["sales"]).first().delete()
    html = browser(team, "sales").get("/queue/?lang=en").content.decode()
    assert "2 more open leads" in html


def test_a_call_logged_on_an_e_mail_only_lead_names_it_by_its_e_mail(team):
    lead = capture(team, owner="sales", phone="", email="lan@example.com")
    response = browser(team, "sales").post(
        f"/queue/{lead.pk}/call/?lang=en", {"call-outcome": "no_answer"}, follow=True
    )
    assert f"Call logged on lead #{lead.pk} lan@example.com." in response.content.decode()
