"""Round-robin assignment, manual reassignment, the timeline and the owner's notification."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.core.errors import Forbidden, ValidationFailed
from leadloop.core.models import AuditLog, Member
from leadloop.core.services import member_create, member_update
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.models import Timer
from leadloop.routing.services import lead_assign
from leadloop.routing.sla import timers_fire_due
from tests.core.support import assert_error, capture, phone


def add_sales(team, name: str, *, active: bool = True):
    return member_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        email=f"{name.lower()}@acme.test",
        full_name=name,
        role="sales",
        team="Sales",
        active=active,
    )


def test_round_robin_spreads_evenly_over_active_sales_and_skips_the_inactive(team):
    add_sales(team, "Ba")
    sleeping = add_sales(team, "Bon", active=False)
    add_sales(team, "Nam")
    owners = Counter(capture(team, phone=phone(i)).lead.owner_id for i in range(41))
    assert sleeping.id not in owners
    assert None not in owners
    assert set(Member.objects.filter(id__in=owners).values_list("role", flat=True)) == {"sales"}
    assert len(owners) == 4
    assert max(owners.values()) - min(owners.values()) <= 1
    # each lead was assigned exactly once, by round robin
    events = LeadEvent.objects.filter(kind="assigned")
    assert events.count() == 41
    assert set(events.values_list("reason", flat=True)) == {"round_robin"}


def test_round_robin_cycles_in_a_fixed_order(team):
    order = [capture(team, phone=phone(i)).lead.owner_id for i in range(6)]
    assert order[:2] == order[2:4] == order[4:6]
    assert len(set(order[:2])) == 2


def test_a_deactivated_rep_stops_receiving_and_a_reactivated_one_resumes(team):
    admin = team.actors["admin"]
    member_update(member=team.members["sales2"], actor=admin, active=False)
    owners = {capture(team, phone=phone(i)).lead.owner_id for i in range(4)}
    assert owners == {team.members["sales"].id}
    member_update(member=team.members["sales2"], actor=admin, active=True)
    owners = {capture(team, phone=phone(10 + i)).lead.owner_id for i in range(4)}
    assert owners == {team.members["sales"].id, team.members["sales2"].id}


def test_without_active_sales_a_lead_stays_unassigned(team):
    admin = team.actors["admin"]
    for role in ("sales", "sales2"):
        member_update(member=team.members[role], actor=admin, active=False)
    lead = capture(team, phone=phone(1)).lead
    assert lead.owner is None
    assert not LeadEvent.objects.filter(kind="assigned").exists()
    assert not Notification.objects.exists()


def test_a_new_lead_notifies_its_owner(team):
    lead = capture(team, full_name="Khách Mới", phone=phone(1)).lead
    note = Notification.objects.get(member=lead.owner)
    assert (note.kind, note.lead) == ("lead_assigned", lead)
    assert "Khách Mới" in note.message


def test_manual_reassignment_is_on_the_timeline_and_notifies_the_new_owner(team):
    lead = capture(team, phone=phone(1)).lead
    previous = lead.owner
    new_role = "sales2" if previous == team.members["sales"] else "sales"
    new_owner = team.members[new_role]
    response = team.api("manager").post(
        f"/leads/{lead.pk}/assign", {"owner_id": new_owner.id, "reason": "cân tải"}
    )
    assert response.status_code == 200
    assert response.json()["owner"] == {"id": new_owner.id, "name": new_owner.full_name}
    event = LeadEvent.objects.filter(lead=lead, kind="assigned").latest("id")
    assert (event.from_owner, event.to_owner) == (previous, new_owner)
    assert event.actor == team.members["manager"]
    assert event.reason == "cân tải"
    note = Notification.objects.filter(member=new_owner, lead=lead).get()
    assert note.kind == "lead_assigned"
    lead.refresh_from_db()
    assert lead.owner == new_owner and lead.assigned_at is not None
    # the new owner now sees it, the old one no longer does
    assert team.api(new_role).get(f"/leads/{lead.pk}").status_code == 200
    old_role = "sales" if new_role == "sales2" else "sales2"
    assert_error(team.api(old_role).get(f"/leads/{lead.pk}"), 404)


def test_assigning_to_the_current_owner_changes_nothing(team):
    lead = capture(team, phone=phone(1)).lead
    before = LeadEvent.objects.count(), Notification.objects.count()
    lead_assign(lead=lead, actor=team.actors["admin"], owner_id=lead.owner_id)
    assert (LeadEvent.objects.count(), Notification.objects.count()) == before


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_leads_can_go_to_managers_and_admins(team, role):
    lead = capture(team, phone=phone(1)).lead
    lead_assign(lead=lead, actor=team.actors["admin"], owner_id=team.members[role].id)
    assert Lead.objects.get(pk=lead.pk).owner == team.members[role]


def test_assignment_rules(team, other_team):
    lead = capture(team, phone=phone(1)).lead
    admin = team.actors["admin"]
    with pytest.raises(ValidationFailed):
        lead_assign(lead=lead, actor=admin, owner_id=team.members["marketer"].id)
    with pytest.raises(ValidationFailed):
        lead_assign(lead=lead, actor=admin, owner_id=other_team.members["sales"].id)
    with pytest.raises(ValidationFailed):
        lead_assign(lead=lead, actor=admin, owner_id=10**12)
    inactive = add_sales(team, "Nghỉ", active=False)
    with pytest.raises(ValidationFailed):
        lead_assign(lead=lead, actor=admin, owner_id=inactive.id)
    for role in ("sales", "sales2", "marketer"):
        with pytest.raises(Forbidden):
            lead_assign(lead=lead, actor=team.actors[role], owner_id=team.members["sales"].id)
    assert LeadEvent.objects.filter(lead=lead, kind="assigned").count() == 1


@pytest.mark.parametrize("target", ["marketer", "inactive", "stranger", "missing", "true"])
def test_bad_assign_targets_are_422_over_the_api(team, other_team, target):
    lead = capture(team, phone=phone(1)).lead
    owner_id = {
        "marketer": team.members["marketer"].id,
        "inactive": add_sales(team, "Nghỉ", active=False).id,
        "stranger": other_team.members["sales"].id,
        "missing": 987654321,
        "true": True,  # not member 1
    }[target]
    error = assert_error(
        team.api("admin").post(f"/leads/{lead.pk}/assign", {"owner_id": owner_id}), 422
    )
    assert "owner_id" in error["fields"]
    assert Lead.objects.get(pk=lead.pk).owner_id == lead.owner_id


def _leads_of_sales(team, count: int) -> list[Lead]:
    admin, rep = team.actors["admin"], team.members["sales"]
    leads = [capture(team, phone=phone(i)).lead for i in range(count)]
    for lead in leads:
        if lead.owner_id != rep.pk:
            lead_assign(lead=lead, actor=admin, owner_id=rep.pk)
    return leads


def test_deactivating_a_rep_hands_their_open_leads_to_the_rules(team):
    rep, other = team.members["sales"], team.members["sales2"]
    leads = _leads_of_sales(team, 4)
    lead_change_stage(lead=leads[0], actor=team.actors["admin"], stage_key="k1")  # won: closed
    told_before = Notification.objects.filter(member=other, kind="lead_assigned").count()
    member_update(member=rep, actor=team.actors["admin"], active=False)

    owners = dict(Lead.objects.values_list("pk", "owner_id"))
    assert owners[leads[0].pk] == rep.pk  # a closed lead keeps its history
    assert {owners[lead.pk] for lead in leads[1:]} == {other.pk}
    handed = LeadEvent.objects.filter(kind="assigned", reason="owner_inactive")
    assert sorted(handed.values_list("lead_id", flat=True)) == [lead.pk for lead in leads[1:]]
    assert Notification.objects.filter(member=other, kind="lead_assigned").count() == (
        told_before + 3
    )
    assert not Notification.objects.filter(member=rep, kind="lead_reassigned").exists()
    assert Timer.objects.filter(lead__in=leads[1:], member=rep, fired_at__isnull=True).count() == 0
    audit = AuditLog.objects.filter(action="member.update").latest("id")
    assert (audit.data["handed_on"], audit.data["queued"]) == (3, 0)


def test_handing_on_many_leads_takes_a_few_statements_not_some_per_lead(team):
    """A rep leaving with hundreds of open leads: a few statements per batch, not per lead."""
    leaving = team.members["sales"]
    _leads_of_sales(team, 40)
    third = add_sales(team, "Ba")  # the leads go to two reps: one UPDATE each
    with CaptureQueriesContext(connection) as queries:
        member_update(member=leaving, actor=team.actors["admin"], active=False)
    assert len(queries) < 40
    assert not Lead.objects.filter(owner=leaving).exists()
    assert LeadEvent.objects.filter(kind="assigned", reason="owner_inactive").count() == 40
    owed = Timer.objects.filter(kind="first_contact", fired_at__isnull=True, done_at__isnull=True)
    for rep in (team.members["sales2"], third):
        mine = set(Lead.objects.filter(owner=rep, is_open=True).values_list("pk", flat=True))
        assert len(mine) == 20
        assert set(owed.filter(member=rep).values_list("lead_id", flat=True)) == mine
    assert not owed.filter(member=leaving).exists()


def test_an_open_lead_no_one_can_take_now_waits_in_the_queue_then_goes_out(team):
    rep, other = team.members["sales"], team.members["sales2"]
    leads = _leads_of_sales(team, 2)
    ids = [lead.pk for lead in leads]
    Member.objects.filter(pk=other.pk).update(away=True)  # the only other rep takes no lead now
    member_update(member=rep, actor=team.actors["admin"], active=False)
    assert set(Lead.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {None}
    audit = AuditLog.objects.filter(action="member.update").latest("id")
    assert (audit.data["handed_on"], audit.data["queued"]) == (0, 2)
    moves = LeadEvent.objects.filter(lead_id__in=ids, kind="assigned", to_owner=None)
    assert {(e.from_owner_id, e.reason) for e in moves} == {(rep.pk, "owner_inactive")}
    waiting = Timer.objects.filter(lead_id__in=ids, fired_at__isnull=True)
    assert not waiting.filter(member=rep).exists()
    assert Counter(waiting.values_list("kind", flat=True)) == {"queue": 2, "assign": 2}
    Member.objects.filter(pk=other.pk).update(away=False)  # back: the queue gives them out
    timers_fire_due()
    assert set(Lead.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {other.pk}


def test_assigning_goes_by_the_owner_stored_not_the_one_an_old_read_shows(team):
    admin, reps = team.actors["admin"], [team.members["sales"], team.members["sales2"]]
    lead = capture(team, phone=phone(1)).lead
    first, other = sorted(reps, key=lambda rep: rep.pk != lead.owner_id)
    stale = Lead.objects.get(pk=lead.pk)  # read while `first` owns it
    lead_assign(lead=lead, actor=admin, owner_id=other.pk)
    lead_assign(lead=stale, actor=admin, owner_id=first.pk)  # back: not a no-op
    assert Lead.objects.get(pk=lead.pk).owner_id == first.pk
    moves = LeadEvent.objects.filter(lead=lead, kind="assigned").order_by("id")
    assert [(e.from_owner_id, e.to_owner_id) for e in moves][-2:] == [
        (first.pk, other.pk),
        (other.pk, first.pk),
    ]
