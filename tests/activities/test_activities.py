"""POST /api/v1/leads/{id}/activities: attempts, first contact, suggested stages, validation."""

from datetime import date, timedelta

import pytest

from leadloop.activities.models import Activity
from leadloop.activities.services import activity_log
from leadloop.core.errors import Forbidden, ValidationFailed
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.routing.services import lead_assign
from tests.core.support import assert_error, at, capture, local, phone

T0 = local(date(2026, 6, 1), 9, 0)


@pytest.fixture
def lead(team):
    with at(T0):
        lead = capture(team, full_name="Khách", phone=phone(1)).lead
        lead_assign(lead=lead, actor=team.actors["admin"], owner_id=team.members["sales"].id)
    return Lead.objects.get(pk=lead.pk)


def log(api, lead, **body):
    return api.post(f"/leads/{lead.pk}/activities", body)


def test_calls_are_numbered_attempts_1_2_3(team, lead):
    api = team.api("sales")
    attempts = []
    for outcome in ("no_answer", "busy_callback", "thinking"):
        response = log(api, lead, kind="call", outcome=outcome, duration_s=30)
        assert response.status_code == 201, response.content
        attempts.append(response.json()["attempt"])
    assert attempts == [1, 2, 3]
    note = log(api, lead, kind="note", body="ghi chú").json()
    assert note["attempt"] is None
    lead.refresh_from_db()
    assert lead.call_attempts == 3
    assert list(
        Activity.objects.filter(kind="call").order_by("id").values_list("attempt", flat=True)
    ) == [1, 2, 3]
    # other people's calls count as attempts too
    assert log(team.api("manager"), lead, kind="call").json()["attempt"] == 4


def test_answer_shape(team, lead):
    body = log(
        team.api("sales"),
        lead,
        kind="call",
        outcome="busy_callback",
        duration_s=45,
        body="gọi lại 3h",
    ).json()
    assert set(body) == {
        "id",
        "kind",
        "outcome",
        "duration_s",
        "attempt",
        "body",
        "suggested_stage",
    }
    assert (body["kind"], body["outcome"], body["duration_s"], body["body"]) == (
        "call",
        "busy_callback",
        45,
        "gọi lại 3h",
    )


@pytest.mark.parametrize("kind", ["call", "sms", "email"])
def test_the_owners_first_call_sms_or_email_sets_first_contact(team, lead, kind):
    moment = T0 + timedelta(minutes=7)
    with at(moment):
        log(team.api("sales"), lead, kind=kind)
    lead.refresh_from_db()
    assert abs(lead.first_contact_at - moment) < timedelta(seconds=2)
    with at(moment + timedelta(hours=1)):
        log(team.api("sales"), lead, kind="call")
    lead.refresh_from_db()
    assert abs(lead.first_contact_at - moment) < timedelta(seconds=2)  # the first one stays
    detail = team.api("sales").get(f"/leads/{lead.pk}").json()
    assert detail["first_contact_at"].startswith("2026-06-01T09:07")


@pytest.mark.parametrize("kind", ["note", "meeting", "task"])
def test_a_note_meeting_or_task_is_not_a_first_contact(team, lead, kind):
    log(team.api("sales"), lead, kind=kind, body="x")
    lead.refresh_from_db()
    assert lead.first_contact_at is None
    assert lead.last_activity_at is not None


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_someone_elses_call_is_not_the_first_contact(team, lead, role):
    assert log(team.api(role), lead, kind="call").status_code == 201
    lead.refresh_from_db()
    assert lead.first_contact_at is None
    assert lead.call_attempts == 1


@pytest.mark.parametrize(
    ("outcome", "stage"),
    [
        ("busy_callback", "k3"),
        ("no_answer", "k3"),
        ("thinking", "k2"),
        ("consulted", "k5"),
        ("bought", "k1"),
        ("wrong_number", "k4-1"),
        ("refused", "k4-2"),
        ("", None),
    ],
)
def test_outcomes_suggest_the_telesales_stage(team, lead, outcome, stage):
    body = log(team.api("sales"), lead, kind="call", outcome=outcome).json()
    assert body["suggested_stage"] == stage
    lead.refresh_from_db()
    assert lead.stage.key == "new"  # only a suggestion: the stage does not move by itself


def test_activities_are_on_the_lead_and_its_timeline(team, lead):
    log(team.api("sales"), lead, kind="call", outcome="no_answer", duration_s=0)
    log(team.api("sales"), lead, kind="note", body="Khách đi công tác")
    detail = team.api("manager").get(f"/leads/{lead.pk}").json()
    assert [(a["kind"], a["attempt"]) for a in detail["activities"]] == [
        ("note", None),
        ("call", 1),
    ]
    assert detail["activities"][1]["member"]["id"] == team.members["sales"].id
    assert LeadEvent.objects.filter(lead=lead, kind="activity").count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "fax"},
        {"kind": "call", "duration_s": -1},
        {"kind": "call", "duration_s": 86_401},
        {"kind": "note", "body": "x" * 10_001},
        {"kind": "call", "outcome": "x" * 41},
        {"kind": "call", "outcome": "<b>anything at all</b>"},
        {"kind": "call", "outcome": "Bought"},
        {"kind": "note", "outcome": "bought", "body": "a note has no outcome"},
        {"kind": "call", "extra": 1},
        {"outcome": "no_answer"},
    ],
)
def test_invalid_activities_are_422_and_change_nothing(team, lead, body):
    assert_error(log(team.api("sales"), lead, **body), 422)
    lead.refresh_from_db()
    assert (lead.call_attempts, lead.last_activity_at) == (0, None)
    assert not Activity.objects.exists()


def test_an_unknown_outcome_says_which_ones_there_are(team, lead):
    error = assert_error(log(team.api("sales"), lead, kind="call", outcome="maybe"), 422)
    assert "no_answer" in error["fields"]["outcome"][0]


def test_activity_log_service_rules(team, lead):
    with pytest.raises(ValidationFailed):
        activity_log(lead=lead, actor=team.actors["sales"], kind="fax")
    with pytest.raises(ValidationFailed):
        activity_log(lead=lead, actor=team.actors["sales"], kind="call", duration_s=-5)
    for role in ("marketer", "sales2"):
        with pytest.raises(Forbidden):
            activity_log(lead=lead, actor=team.actors[role], kind="call")
    logged = activity_log(lead=lead, actor=team.actors["sales"], kind="call", outcome="bought")
    assert logged.suggested_stage.key == "k1"
    assert logged.activity.attempt == 1
