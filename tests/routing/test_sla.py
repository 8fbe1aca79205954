"""SLA timers: obligations met or breached, attempts, idle reassignment, journeys, the queue.

Time moves with the clock helper; `timers_fire_due` is what every worker runs each tick.
"""

from datetime import date, timedelta

import pytest
from django.utils import translation

from leadloop.activities.services import activity_log
from leadloop.core import clock
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Member
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent, Stage
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.engine import policy_of
from leadloop.routing.models import Timer
from leadloop.routing.sla import queue_wake, timers_fire_due
from tests.core.support import HCM, assert_error, at, capture, local, phone

WEEKDAYS = {str(d): [["08:00", "12:00"], ["13:30", "17:30"]] for d in range(6)}  # Mon-Sat


def set_policy(team, **fields):
    policy = policy_of(team.workspace)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def owner_role(team, lead) -> str:
    return next(r for r, m in team.members.items() if m.pk == lead.owner_id)


def call(team, lead, outcome="no_answer", role=None, **extra):
    return activity_log(
        lead=lead,
        actor=team.actors[role or owner_role(team, lead)],
        kind="call",
        outcome=outcome,
        **extra,
    )


def near(moment, expected) -> bool:
    """The clock helper sets time to the millisecond, and a capture takes a few."""
    return abs(moment - expected) < timedelta(seconds=1)


def pending(lead, kind):
    return Timer.objects.filter(lead=lead, kind=kind, fired_at__isnull=True)


def breaches(member=None):
    found = Notification.objects.filter(kind="sla_breach")
    return found.filter(member=member) if member else found


def test_a_new_lead_owes_a_first_contact_within_the_policy_minutes(team):
    lead = capture(team, phone=phone(1)).lead
    timer = Timer.objects.get(lead=lead, kind="first_contact")
    assert timer.member_id == lead.owner_id
    assert near(timer.due_at, lead.assigned_at + timedelta(minutes=15))
    assert timer.done_at is None and timer.fired_at is None


def test_a_first_call_in_time_meets_the_obligation_and_nobody_is_alerted(team):
    lead = capture(team, phone=phone(1)).lead
    with clock.travel(timedelta(minutes=10)):
        call(team, lead, outcome="thinking")
    with clock.travel(timedelta(minutes=16)):
        timers_fire_due()
    timer = Timer.objects.get(lead=lead, kind="first_contact")
    assert timer.done_at is not None and timer.done_at <= timer.due_at
    assert timer.fired_at is not None
    assert not breaches().exists()


def test_a_missed_first_contact_alerts_the_owner_and_the_managers_once(team):
    lead = capture(team, phone=phone(1)).lead
    with clock.travel(timedelta(minutes=14)):
        assert timers_fire_due() == 0
    with clock.travel(timedelta(minutes=16)):
        assert timers_fire_due() == 1
        assert timers_fire_due() == 0
    alerted = set(breaches().values_list("member_id", flat=True))
    members = team.members
    assert alerted == {lead.owner_id, members["manager"].pk, members["admin"].pk}
    assert breaches().count() == 3
    with clock.travel(timedelta(minutes=40)):
        call(team, lead)  # met late: the log keeps how late
    timer = Timer.objects.get(lead=lead, kind="first_contact")
    assert timer.done_at - timer.due_at >= timedelta(minutes=24)


def test_someone_elses_call_does_not_meet_the_owners_obligation(team):
    lead = capture(team, phone=phone(1)).lead
    activity_log(lead=lead, actor=team.actors["manager"], kind="call", outcome="thinking")
    assert Timer.objects.get(lead=lead, kind="first_contact").done_at is None


def test_failed_calls_follow_the_cadence_then_the_lead_moves_to_not_reached(team):
    not_reached = Stage.objects.get(workspace=team.workspace, key="k4-2")
    set_policy(
        team,
        business_hours=WEEKDAYS,
        attempt_cadence=["2h", "next_morning"],
        not_reached_stage=not_reached,
    )
    monday_9 = local(date(2026, 11, 23), 9)
    with at(monday_9):
        lead = capture(team, phone=phone(1)).lead
        call(team, lead)
    second = Timer.objects.get(lead=lead, kind="attempt", attempt=2)
    assert near(second.due_at, local(date(2026, 11, 23), 11))
    with at(local(date(2026, 11, 23), 11, 5)):
        call(team, lead)
    third = Timer.objects.get(lead=lead, kind="attempt", attempt=3)
    assert near(third.due_at, local(date(2026, 11, 24), 8))  # the next morning's opening
    second.refresh_from_db()
    assert second.done_at is not None
    with at(local(date(2026, 11, 24), 8, 30)):
        call(team, lead)
    lead.refresh_from_db()
    assert (lead.stage.key, lead.is_open) == ("k4-2", False)
    moved = LeadEvent.objects.get(lead=lead, kind="stage")
    assert "3" in moved.reason and moved.actor_label == "SLA"


def test_a_reached_person_ends_the_attempts(team):
    lead = capture(team, phone=phone(1)).lead
    call(team, lead, outcome="consulted")
    assert not Timer.objects.filter(lead=lead, kind="attempt").exists()


def test_a_callback_time_sets_the_next_attempt(team):
    lead = capture(team, phone=phone(1)).lead
    later = clock.now() + timedelta(days=2, hours=3)
    call(team, lead, outcome="busy_callback", callback_at=later)
    assert Timer.objects.get(lead=lead, kind="attempt", attempt=2).due_at == later


def test_a_callback_the_person_asked_for_is_planned_whatever_the_outcome_and_shown(team):
    not_reached = Stage.objects.get(workspace=team.workspace, key="k4-2")
    set_policy(team, attempt_cadence=["2h", "2h"], not_reached_stage=not_reached)
    lead = capture(team, phone=phone(1)).lead
    tomorrow = clock.now() + timedelta(days=1)
    call(team, lead, outcome="thinking", callback_at=tomorrow)  # reached, wants a call back
    assert Timer.objects.get(lead=lead, kind="attempt", done_at=None).due_at == tomorrow
    call(team, lead, outcome="busy_callback")  # attempt 2: the cadence's last step, in 2 hours
    later = clock.now() + timedelta(days=3)
    call(team, lead, outcome="busy_callback", callback_at=later)  # past the cadence
    lead.refresh_from_db()
    assert lead.stage.key != "k4-2"  # asked to be called back: not given up on
    assert Timer.objects.get(lead=lead, kind="attempt", done_at=None).due_at == later
    page = team.browser_client(owner_role(team, lead)).get(f"/leads/{lead.pk}/?lang=en")
    shown = later.astimezone(HCM).strftime("%d/%m/%Y %H:%M")
    assert f"call back at {shown}" in page.content.decode()
    call(team, lead, outcome="no_answer")  # past the cadence, no time asked: given up
    lead.refresh_from_db()
    assert lead.stage.key == "k4-2"


def test_a_callback_plans_nothing_on_a_closed_lead_and_a_time_gone_is_due_now(team):
    lead = capture(team, phone=phone(1)).lead
    call(team, lead, outcome="thinking", callback_at=clock.now() - timedelta(hours=20))
    due = Timer.objects.get(lead=lead, kind="attempt", done_at=None).due_at
    assert near(due, clock.now())  # not breached at once for a time already gone
    lead_change_stage(lead=lead, actor=team.actors["manager"], stage_key="k1")  # won: closed
    call(team, lead, outcome="bought", callback_at=clock.now() + timedelta(days=1))
    assert not Timer.objects.filter(lead=lead, kind="attempt", done_at=None).exists()


def test_only_a_call_takes_a_callback_time(team):
    lead = capture(team, phone=phone(1)).lead
    with pytest.raises(ValidationFailed) as refused:
        activity_log(
            lead=lead,
            actor=team.actors[owner_role(team, lead)],
            kind="note",
            body="gọi lại sau",
            callback_at=clock.now() + timedelta(days=1),
        )
    assert "callback_at" in refused.value.fields


def test_an_untouched_lead_moves_to_the_next_rep_and_the_previous_owner_hears_of_it(team):
    set_policy(team, idle_hours=2)
    lead = capture(team, phone=phone(1)).lead
    first_owner = lead.owner_id
    with clock.travel(timedelta(hours=2, minutes=1)):
        timers_fire_due()
    lead.refresh_from_db()
    assert lead.owner_id not in (None, first_owner)
    event = LeadEvent.objects.filter(lead=lead, kind="assigned").last()
    assert (event.from_owner_id, event.to_owner_id, event.reason) == (
        first_owner,
        lead.owner_id,
        "idle",
    )
    told = Notification.objects.get(kind="lead_reassigned")
    assert told.member_id == first_owner and told.lead_id == lead.pk
    assert told.message.endswith("(không chăm sóc kịp thời)")  # the reason, in words
    assert Notification.objects.filter(kind="lead_assigned", member_id=lead.owner_id).exists()
    # the new owner now owes the first contact; the old one's open obligations are gone
    owed = Timer.objects.get(lead=lead, kind="first_contact", fired_at__isnull=True)
    assert owed.member_id == lead.owner_id


def test_activity_restarts_the_idle_clock(team):
    set_policy(team, idle_hours=2)
    lead = capture(team, phone=phone(1)).lead
    owner = lead.owner_id
    with clock.travel(timedelta(hours=1, minutes=30)):
        call(team, lead, outcome="thinking")
    with clock.travel(timedelta(hours=2, minutes=30)):
        timers_fire_due()
    lead.refresh_from_db()
    assert lead.owner_id == owner
    with clock.travel(timedelta(hours=3, minutes=31)):
        timers_fire_due()
    lead.refresh_from_db()
    assert lead.owner_id != owner


def test_a_pausing_stage_stops_the_idle_clock_and_leaving_it_restarts_it(team):
    set_policy(team, idle_hours=1)
    lead = capture(team, phone=phone(1)).lead
    owner = owner_role(team, lead)
    lead_change_stage(lead=lead, actor=team.actors[owner], stage_key="k3")
    assert not pending(lead, "idle").exists()
    with clock.travel(timedelta(hours=5)):
        timers_fire_due()
        lead.refresh_from_db()
        assert lead.owner.pk == team.members[owner].pk
        lead_change_stage(lead=lead, actor=team.actors[owner], stage_key="k2")
    assert pending(lead, "idle").count() == 1


def test_the_journey_ends_after_the_agreed_days(team):
    lost = Stage.objects.get(workspace=team.workspace, key="k4-2")
    set_policy(team, journey_days=7, journey_end_stage=lost)
    lead = capture(team, phone=phone(1)).lead
    with clock.travel(timedelta(days=6, hours=23)):
        timers_fire_due()
    lead.refresh_from_db()
    assert lead.is_open
    with clock.travel(timedelta(days=7, minutes=1)):
        timers_fire_due()
    lead.refresh_from_db()
    assert (lead.is_open, lead.stage.key) == (False, "k4-2")


def test_closing_a_lead_drops_its_future_timers(team):
    set_policy(team, idle_hours=2, journey_days=30)
    lead = capture(team, phone=phone(1)).lead
    lead_change_stage(lead=lead, actor=team.actors[owner_role(team, lead)], stage_key="k1")
    assert not Timer.objects.filter(lead=lead, fired_at__isnull=True).exists()
    with clock.travel(timedelta(days=31)):
        assert timers_fire_due() == 0
    assert not breaches().exists()


def test_a_lead_nobody_can_take_waits_alerts_the_managers_and_goes_to_the_first_rep_back(team):
    reps = Member.objects.filter(pk__in=[team.members["sales"].pk, team.members["sales2"].pk])
    reps.update(away=True)
    lead = capture(team, phone=phone(1)).lead
    assert lead.owner is None
    assert pending(lead, "queue").count() == 1
    with clock.travel(timedelta(minutes=6)):
        timers_fire_due()
    unassigned = Notification.objects.filter(kind="lead_unassigned", lead=lead)
    assert set(unassigned.values_list("member_id", flat=True)) == {
        team.members["manager"].pk,
        team.members["admin"].pk,
    }
    reps.filter(pk=team.members["sales2"].pk).update(away=False)
    with clock.travel(timedelta(minutes=7)):
        queue_wake(workspace_id=team.workspace.pk)
        timers_fire_due()
    lead.refresh_from_db()
    assert lead.owner_id == team.members["sales2"].pk
    assert Timer.objects.get(lead=lead, kind="assign").done_at is not None
    assert not pending(lead, "queue").exists()
    assert Timer.objects.filter(lead=lead, kind="first_contact", member_id=lead.owner_id).exists()


def test_a_lead_in_the_night_is_owed_from_the_next_opening(team):
    set_policy(team, business_hours=WEEKDAYS)
    for role in ("sales", "sales2"):  # reps follow the business hours
        assert not team.members[role].working_hours
    with at(local(date(2026, 11, 23), 22)):
        lead = capture(team, phone=phone(1)).lead
    assert lead.owner is None  # nobody is on shift at 22:00
    assign = Timer.objects.get(lead=lead, kind="assign")
    assert near(assign.due_at, local(date(2026, 11, 24), 8, 5))
    with at(local(date(2026, 11, 24), 8, 0)):
        timers_fire_due()
    lead.refresh_from_db()
    assert lead.owner is not None
    owed = Timer.objects.get(lead=lead, kind="first_contact")
    assert near(owed.due_at, local(date(2026, 11, 24), 8, 15))


def test_timers_missed_while_the_worker_was_down_fire_once_when_it_returns(team):
    leads = [capture(team, phone=phone(i)).lead for i in range(5)]
    with clock.travel(timedelta(days=3)):
        assert timers_fire_due() == 5
        assert timers_fire_due() == 0
    assert sum(breaches().values_list("count", flat=True)) == 5 * 3  # each counted once
    fired = Timer.objects.filter(lead__in=leads, fired_at__isnull=False)
    assert fired.count() == 5


def test_the_timers_of_one_workspace_never_touch_another(team, other_team):
    capture(team, phone=phone(1))
    theirs = capture(other_team, phone=phone(1)).lead
    with clock.travel(timedelta(hours=1)):
        timers_fire_due()
    alerted = Notification.objects.filter(kind="sla_breach")
    assert {n.workspace_id for n in alerted} == {team.workspace.pk, other_team.workspace.pk}
    assert all(n.member.workspace_id == n.workspace_id for n in alerted)
    assert Notification.objects.filter(lead=theirs, workspace=team.workspace).count() == 0


def test_a_callback_time_from_the_lead_page_is_read_in_the_workspace_time_zone(team):
    lead = capture(team, phone=phone(1)).lead
    client = team.browser_client(owner_role(team, lead))
    tomorrow = (clock.now().astimezone(HCM) + timedelta(days=1)).date()
    response = client.post(
        f"/leads/{lead.pk}/call/",
        {"call-outcome": "busy_callback", "call-callback_at": f"{tomorrow}T17:00"},
    )
    assert response.status_code == 302
    assert near(Timer.objects.get(lead=lead, attempt=2).due_at, local(tomorrow, 17))


def test_a_callback_time_over_the_api_needs_an_offset(team):
    lead = capture(team, phone=phone(1)).lead
    api = team.api(owner_role(team, lead))
    naive = api.post(
        f"/leads/{lead.pk}/activities",
        {"kind": "call", "outcome": "busy_callback", "callback_at": "2030-01-02T09:00:00"},
    )
    assert_error(naive, 422)
    answered = api.post(
        f"/leads/{lead.pk}/activities",
        {"kind": "call", "outcome": "busy_callback", "callback_at": "2030-01-02T09:00:00+07:00"},
    )
    assert answered.status_code == 201
    due = Timer.objects.get(lead=lead, attempt=2).due_at
    assert due == local(date(2030, 1, 2), 9)


@pytest.mark.parametrize("callback_at", ["0001-01-01T00:00:00+07:00", "9999-12-31T23:59:00+07:00"])
def test_a_callback_time_no_one_could_mean_is_422_over_the_api(team, callback_at):
    lead = capture(team, phone=phone(1)).lead
    api = team.api(owner_role(team, lead))
    body = {"kind": "call", "outcome": "no_answer", "callback_at": callback_at}
    error = assert_error(api.post(f"/leads/{lead.pk}/activities", body), 422)
    assert list(error["fields"]) == ["callback_at"]
    assert Lead.objects.get(pk=lead.pk).call_attempts == 0


def test_a_callback_time_no_one_could_mean_is_refused_on_the_lead_page(team):
    lead = capture(team, phone=phone(1)).lead
    client = team.browser_client(owner_role(team, lead))
    response = client.post(
        f"/leads/{lead.pk}/call/",
        {"call-outcome": "busy_callback", "call-callback_at": "0001-01-01T00:00"},
    )
    assert response.status_code == 400  # the lead page again, the error on the field
    assert "Từ bây giờ đến năm năm tới." in response.content.decode()  # the page is Vietnamese
    assert Lead.objects.get(pk=lead.pk).call_attempts == 0


def test_notifications_are_written_in_the_members_language_whoever_makes_them(team):
    set_policy(team, idle_hours=2)
    Member.objects.filter(pk=team.members["sales"].pk).update(language="en")
    leads = [capture(team, phone=phone(i)).lead for i in range(2)]
    with translation.override("vi"), clock.travel(timedelta(hours=2, minutes=1)):
        timers_fire_due()  # a worker in Vietnamese
    english = Notification.objects.filter(member=team.members["sales"])
    vietnamese = Notification.objects.filter(member=team.members["sales2"])  # the workspace's
    assert {lead.owner_id for lead in leads} == {
        m.pk for m in team.members.values() if m.role == "sales"
    }
    assert english.filter(kind="lead_assigned", message__startswith="New lead for you").exists()
    assert english.filter(
        kind="lead_reassigned", message__contains="(no activity in time)"
    ).exists()
    assert vietnamese.filter(kind="lead_assigned", message__startswith="Bạn có lead mới").exists()
