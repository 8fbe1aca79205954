"""Concurrent submissions on PostgreSQL, through real HTTP requests to a live server.

Run with DATABASE_URL=postgres://...; skipped on SQLite (which serialises every write)."""

from collections import Counter

import pytest

from leadloop.contacts.models import Contact
from leadloop.core.access import Actor
from leadloop.intake.models import IdempotencyRecord, Touch
from leadloop.intake.services import Submission, lead_capture
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from tests.core.support import burst, phone, three_more_reps

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


def test_the_same_new_phone_at_once_is_one_contact_and_one_lead(team, post):
    forms = ["0912345678", "+84912345678", "0912 345 678", "84912345678", "0912.345.678"]
    responses = burst(
        THREADS, lambda i: post({"full_name": f"Khách {i}", "phone": forms[i % len(forms)]})
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert Counter(r.status_code for r in responses) == {201: 1, 200: THREADS - 1}
    lead_ids = {r.json()["id"] for r in responses}
    assert len(lead_ids) == 1
    assert Contact.objects.filter(workspace=team.workspace).count() == 1
    lead = Lead.objects.get()
    assert lead.is_open and lead.pk in lead_ids
    assert Touch.objects.filter(lead=lead).count() == THREADS
    assert LeadEvent.objects.filter(lead=lead, kind="created").count() == 1
    assert LeadEvent.objects.filter(lead=lead, kind="assigned").count() == 1
    assert {r.json()["duplicate_of"] for r in responses if r.status_code == 200} == lead_ids


def test_fifty_leads_from_ten_threads_spread_evenly_over_five_reps(team, post):
    three_more_reps(team)

    def five_leads(i: int) -> list[int]:
        return [post({"phone": phone(i * 5 + j)}).status_code for j in range(5)]

    statuses = burst(THREADS, five_leads)
    assert [s for batch in statuses for s in batch] == [201] * 50
    leads = list(Lead.objects.all())
    assert len(leads) == 50
    owners = Counter(lead.owner_id for lead in leads)
    assert None not in owners
    assert len(owners) == 5
    assert max(owners.values()) - min(owners.values()) <= 1
    assigned = Counter(LeadEvent.objects.filter(kind="assigned").values_list("lead_id", flat=True))
    assert set(assigned) == {lead.pk for lead in leads}
    assert set(assigned.values()) == {1}
    assert Notification.objects.filter(kind="lead_assigned").count() == 50


def test_the_same_idempotency_key_at_once_makes_one_lead(team, post):
    body = {"full_name": "Một Lần", "phone": "0987654321", "source": "api"}
    responses = burst(THREADS, lambda i: post(body, **{"Idempotency-Key": "once-only"}))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert Lead.objects.count() == 1
    assert Touch.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_the_same_external_id_at_once_makes_one_lead(team, post):
    responses = burst(
        THREADS,
        lambda i: post(
            {"phone": phone(100 + i), "source": "facebook", "external_id": "fb-lead-777"}
        ),
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert Counter(r.status_code for r in responses) == {201: 1, 200: THREADS - 1}
    assert Lead.objects.count() == 1
    assert Touch.objects.count() == 1
    assert Contact.objects.count() == 1


def test_concurrent_service_calls_with_one_email(team):
    workspace, actor = team.workspace, Actor.system(team.workspace)

    def capture(i: int):
        return lead_capture(
            workspace=workspace,
            actor=actor,
            submission=Submission(full_name=f"K{i}", email="Same@Example.com"),
        )

    results = burst(8, capture)
    assert sum(r.created for r in results) == 1
    assert len({r.lead.pk for r in results}) == 1
    assert Contact.objects.filter(email="same@example.com").count() == 1
    assert Touch.objects.count() == 8
