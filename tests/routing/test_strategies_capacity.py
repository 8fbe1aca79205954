"""Strategies, capacity, daily limits, shifts and the queue, through real captures and timers."""

from datetime import date, timedelta

import pytest

from leadloop.core import clock
from leadloop.core.errors import Forbidden, ValidationFailed
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.models import Timer
from leadloop.routing.services import member_routing_update, policy_update
from leadloop.routing.sla import queue_wake, timers_fire_due
from tests.core.support import at, capture, local, phone
from tests.routing.support import add_rep, only, open_counts, owners

MONDAY = date(2027, 3, 1)  # a Monday
WEEKDAYS_8_TO_17 = {str(day): [["08:00", "17:00"]] for day in range(5)}


def leads(team, n: int, start: int = 0, **fields) -> list[Lead]:
    return [capture(team, phone=phone(start + i), **fields).lead for i in range(n)]


def unassigned(team) -> list[Lead]:
    return list(Lead.objects.filter(workspace=team.workspace, owner=None).order_by("id"))


def close(team, lead: Lead) -> None:
    lead_change_stage(lead=lead, actor=team.actors["admin"], stage_key="k4-2")


# ---- strategies


def test_weighted_round_robin_shares_leads_by_weight(team):
    heavy, light = add_rep(team, "Nặng", weight=3), add_rep(team, "Nhẹ", weight=1)
    only(team, heavy, light, strategy="weighted")
    first = leads(team, 40)
    assert owners(first) == {heavy.pk: 30, light.pk: 10}
    # smoothly: never more than three in a row to the heavy rep
    order = [lead.owner_id for lead in first]
    assert all(order[i : i + 4] != [heavy.pk] * 4 for i in range(len(order) - 3))


def test_least_busy_gives_each_lead_to_a_rep_with_the_fewest_open_leads(team):
    reps = [add_rep(team, name) for name in ("Một", "Hai", "Ba")]
    for index, (rep, n) in enumerate(zip(reps, (3, 1, 2), strict=True)):  # open: 3, 1, 2
        only(team, rep)
        leads(team, n, start=100 * (index + 1))
    only(team, *reps, strategy="least_busy")
    for i in range(6):
        before = open_counts(*reps)
        owner = capture(team, phone=phone(900 + i)).lead.owner_id
        assert before[owner] == min(before.values()), (before, owner)
    assert set(open_counts(*reps).values()) == {4}


def test_round_robin_skips_reps_who_cannot_take_a_lead(team):
    a, b, c = (add_rep(team, name) for name in ("An", "Bình", "Chi"))
    member_routing_update(member=b, actor=team.actors["admin"], away=True)
    only(team, a, b, c)
    assert owners(leads(team, 6)) == {a.pk: 3, c.pk: 3}


# ---- capacity, daily limit and the queue


def test_capacity_is_never_exceeded_and_the_rest_wait_unassigned(team):
    a, b = add_rep(team, "An", capacity=2), add_rep(team, "Bình", capacity=1)
    only(team, a, b)
    batch = leads(team, 5)
    assert open_counts(a, b) == {a.pk: 2, b.pk: 1}
    waiting = unassigned(team)
    assert waiting == batch[3:]
    assert Timer.objects.filter(lead__in=waiting, kind="queue", fired_at=None).count() == 2
    timers_fire_due()  # still nobody: they keep waiting
    assert unassigned(team) == waiting


def test_a_queued_lead_is_assigned_once_a_rep_has_room(team):
    a = add_rep(team, "An", capacity=1)
    only(team, a)
    first, second, third = leads(team, 3)
    assert first.owner == a and second.owner is None and third.owner is None
    timers_fire_due()
    close(team, first)  # a's lead closes: one place is free, the queue wakes
    timers_fire_due()
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.owner == a and third.owner is None
    event = LeadEvent.objects.filter(lead=second, kind="assigned").get()
    assert event.to_owner == a and event.actor_label == "SLA"
    member_routing_update(member=a, actor=team.actors["manager"], capacity=2)
    timers_fire_due()
    third.refresh_from_db()
    assert third.owner == a
    assert open_counts(a) == {a.pk: 2}


def test_a_rep_back_from_away_takes_the_waiting_leads(team):
    a = add_rep(team, "An", away=True)
    only(team, a)
    waiting = leads(team, 2)
    assert [lead.owner for lead in waiting] == [None, None]
    timers_fire_due()
    member_routing_update(member=a, actor=team.actors["admin"], away=False)
    timers_fire_due()
    assert {lead.owner_id for lead in Lead.objects.filter(pk__in=[w.pk for w in waiting])} == {a.pk}


def test_the_daily_limit_holds_until_the_next_day(team):
    a, b = add_rep(team, "An", daily_limit=2), add_rep(team, "Bình", away=True)
    only(team, a, b)
    with at(local(MONDAY, 10)):
        batch = leads(team, 3)
        timers_fire_due()
    assert [lead.owner_id for lead in Lead.objects.filter(pk__in=[x.pk for x in batch])] == [
        a.pk,
        a.pk,
        None,
    ]
    with at(local(MONDAY + timedelta(days=1), 9)):
        timers_fire_due()
        assert Lead.objects.get(pk=batch[2].pk).owner == a
        assert capture(team, phone=phone(50)).lead.owner == a
        assert capture(team, phone=phone(51)).lead.owner is None  # two today already


def test_queue_wake_makes_waiting_leads_try_again_at_once(team):
    a = add_rep(team, "An", away=True)
    only(team, a)
    (lead,) = leads(team, 1)
    timers_fire_due()  # nobody: the queue timer waits a minute
    timer = Timer.objects.get(lead=lead, kind="queue")
    assert timer.due_at > clock.now()
    type(a).objects.filter(pk=a.pk).update(away=False)  # behind the services' back
    assert timers_fire_due() == 0
    queue_wake(workspace_id=team.workspace.pk)
    timers_fire_due()
    assert Lead.objects.get(pk=lead.pk).owner == a


# ---- shifts: business hours, a rep's own hours, holidays


@pytest.fixture
def shifts(team):
    """Business hours Monday–Friday 08:00–17:00; `weekend` works Saturday mornings only."""
    admin = team.actors["admin"]
    policy_update(workspace=team.workspace, actor=admin, business_hours=WEEKDAYS_8_TO_17)
    office = add_rep(team, "Văn Phòng")
    weekend = add_rep(team, "Cuối Tuần", working_hours={"5": [["08:00", "12:00"]]})
    only(team, office, weekend)
    return office, weekend


def test_only_reps_on_shift_get_leads(team, shifts):
    office, weekend = shifts
    with at(local(MONDAY, 10)):
        assert owners(leads(team, 3)) == {office.pk: 3}
    with at(local(MONDAY + timedelta(days=5), 10)):  # Saturday
        assert owners(leads(team, 2, start=10)) == {weekend.pk: 2}


def test_a_lead_out_of_hours_waits_for_the_next_opening(team, shifts):
    office, _weekend = shifts
    with at(local(MONDAY, 20)):
        (lead,) = leads(team, 1)
        timers_fire_due()
        assert Lead.objects.get(pk=lead.pk).owner is None
    with at(local(MONDAY + timedelta(days=1), 7, 59)):
        timers_fire_due()
        assert Lead.objects.get(pk=lead.pk).owner is None
    with at(local(MONDAY + timedelta(days=1), 8, 1)):
        timers_fire_due()
        assert Lead.objects.get(pk=lead.pk).owner == office


def test_nobody_gets_leads_on_a_holiday(team, shifts):
    office, _weekend = shifts
    admin = team.actors["admin"]
    saturday = MONDAY + timedelta(days=5)
    policy_update(
        workspace=team.workspace, actor=admin, holidays=[MONDAY.isoformat(), saturday.isoformat()]
    )
    with at(local(MONDAY, 10)):
        monday_lead = capture(team, phone=phone(1)).lead
    with at(local(saturday, 10)):
        saturday_lead = capture(team, phone=phone(2)).lead
    assert monday_lead.owner is None and saturday_lead.owner is None
    with at(local(MONDAY + timedelta(days=7), 9)):
        timers_fire_due()
    assert {lead.owner_id for lead in Lead.objects.all()} == {office.pk}


def test_changing_a_reps_hours_wakes_the_queue(team, shifts):
    _office, weekend = shifts
    with at(local(MONDAY, 20)):
        (lead,) = leads(team, 1)
        timers_fire_due()
        member_routing_update(
            member=weekend, actor=team.actors["manager"], working_hours={"0": [["18:00", "23:00"]]}
        )
        timers_fire_due()
    assert Lead.objects.get(pk=lead.pk).owner == weekend


# ---- a returning contact


def test_a_returning_contact_goes_back_to_their_previous_rep(team):
    a, b = add_rep(team, "An"), add_rep(team, "Bình")
    only(team, a, b)
    first = capture(team, phone=phone(1)).lead
    previous = first.owner
    close(team, first)
    again = capture(team, phone=phone(1)).lead
    assert again.returning and again.owner == previous
    assert LeadEvent.objects.filter(lead=again, kind="assigned").get().reason == "returning"


def test_a_returning_contact_goes_by_the_rules_when_the_previous_rep_cannot_take_it(team):
    a, b = add_rep(team, "An"), add_rep(team, "Bình")
    only(team, a)
    first = capture(team, phone=phone(1)).lead
    close(team, first)
    member_routing_update(member=a, actor=team.actors["admin"], away=True)
    only(team, a, b)
    assert capture(team, phone=phone(1)).lead.owner == b


def test_without_return_to_owner_a_returning_contact_goes_by_the_rules(team):
    a, b = add_rep(team, "An"), add_rep(team, "Bình")
    only(team, a)
    close(team, capture(team, phone=phone(1)).lead)
    policy_update(workspace=team.workspace, actor=team.actors["admin"], return_to_owner=False)
    only(team, b)
    again = capture(team, phone=phone(1)).lead
    assert again.returning and again.owner == b


# ---- the reps' routing settings


def test_a_rep_switches_only_their_own_away(team):
    sales, other = team.members["sales"], team.members["sales2"]
    rep = team.actors["sales"]
    assert member_routing_update(member=sales, actor=rep, away=True).away
    for call in (
        lambda: member_routing_update(member=sales, actor=rep, capacity=99),
        lambda: member_routing_update(member=other, actor=rep, away=True),
        lambda: member_routing_update(
            member=team.members["marketer"], actor=team.actors["marketer"], away=True
        ),
    ):
        with pytest.raises(Forbidden):
            call()
    other.refresh_from_db()
    assert (sales.capacity, other.away) == (0, False)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": -1}, "capacity"),
        ({"capacity": 100_001}, "capacity"),
        ({"daily_limit": True}, "daily_limit"),
        ({"weight": 0}, "weight"),
        ({"weight": 101}, "weight"),
        ({"away": "yes"}, "away"),
        ({"working_hours": {"7": [["08:00", "17:00"]]}}, "working_hours"),
        ({"working_hours": {"0": [["17:00", "08:00"]]}}, "working_hours"),
        ({"working_hours": {"0": [["08:00", "09:00"]] * 11}}, "working_hours"),
        ({"working_hours": []}, "working_hours"),
    ],
)
def test_bad_routing_settings_are_refused(team, change, field):
    with pytest.raises(ValidationFailed) as caught:
        member_routing_update(member=team.members["sales"], actor=team.actors["admin"], **change)
    assert field in caught.value.fields
