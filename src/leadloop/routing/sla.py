"""SLA timers: set when a lead is created, assigned or worked; fired once by a worker.

Every due time is a `Timer` row. Workers claim due rows with `SELECT … FOR UPDATE SKIP LOCKED`
(PostgreSQL; SQLite's single writer serialises them), act, and mark them fired in the same
transaction, so an action happens exactly once and a worker that dies mid-run loses nothing.
"""

import logging
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import DatabaseError, close_old_connections, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadloop.activities.models import CONTACT_KINDS, Kind, Outcome
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.bulk import instance, relate, rows_insert
from leadloop.core.models import Member, Role
from leadloop.notifications.models import Notification
from leadloop.notifications.services import (
    notification_new,
    notifications_digest,
    notifications_publish,
)
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import event_new, lead_change_stage
from leadloop.routing.engine import Router, calendar_of, policy_of
from leadloop.routing.hours import Calendar
from leadloop.routing.models import ASSIGN_REASONS, Policy, Timer

log = logging.getLogger(__name__)

QUEUE_RETRY = timedelta(seconds=60)
NOT_REACHED = (Outcome.NO_ANSWER, Outcome.BUSY_CALLBACK)
OWED_BY_CALL = (Timer.Kind.FIRST_CONTACT, Timer.Kind.ATTEMPT)
BATCH = 200


def _timer(lead: Lead, kind: str, due: datetime, member=None, attempt: int = 0) -> Timer:
    return instance(
        Timer,
        workspace_id=lead.workspace_id,
        lead=lead,
        member=member,
        kind=kind,
        attempt=attempt,
        due_at=due,
        created_at=clock.now(),
    )


def _owner_timers(
    lead: Lead, owner: Member, policy: Policy, business: Calendar, now: datetime
) -> list[Timer]:
    timers = [
        _timer(
            lead,
            Timer.Kind.FIRST_CONTACT,
            business.add(now, policy.first_contact_minutes),
            owner,
            attempt=1,
        )
    ]
    if policy.idle_hours:
        timers.append(
            _timer(lead, Timer.Kind.IDLE, business.add(now, policy.idle_hours * 60), owner)
        )
    return timers


def timers_for_new(lead: Lead, policy: Policy, business: Calendar, now: datetime) -> list[Timer]:
    """The timers of a lead just opened, assigned to `lead.owner` or waiting in the queue."""
    timers = []
    if policy.journey_days:
        timers.append(_timer(lead, Timer.Kind.JOURNEY, now + timedelta(days=policy.journey_days)))
    if lead.owner_id is not None:
        return timers + _owner_timers(lead, lead.owner, policy, business, now)
    return timers + _queue_timers(lead, policy, business, now)


def _queue_timers(lead: Lead, policy: Policy, business: Calendar, now: datetime) -> list[Timer]:
    """A lead waiting for a rep: the queue tries now (then at every opening), and a manager
    hears of it when it waited the time allowed to assign."""
    return [
        _timer(lead, Timer.Kind.QUEUE, now),
        _timer(lead, Timer.Kind.ASSIGN, business.add(now, policy.assign_minutes)),
    ]


def assignment_new(lead: Lead, owner: Member, actor: Actor, reason: str) -> LeadEvent:
    """Give `lead` to `owner` in memory; returns its unsaved timeline row. (A batch gives
    a thousand new leads at once: their owner is set without the descriptor's checks.)"""
    previous = lead.owner if lead.owner_id is not None else None
    relate(lead, "owner", owner)
    lead.assigned_at = clock.now()
    return event_new(
        lead=lead,
        actor=actor,
        kind=LeadEvent.Kind.ASSIGNED,
        from_owner=previous,
        to_owner=owner,
        reason=reason,
        at=lead.assigned_at,
    )


def assigned_note(lead: Lead) -> Notification:
    """The unsaved "new lead for you" notification of the lead's owner."""
    return notification_new(
        member=lead.owner,
        kind="lead_assigned",
        lead=lead,
        message=gettext_lazy("New lead for you: %(name)s"),
        params={"name": lead.contact.label},
    )


def lead_reassign(
    lead: Lead,
    owner: Member,
    actor: Actor,
    reason: str,
    policy: Policy | None = None,
    notes: list[Notification] | None = None,
) -> None:
    """Give a saved lead to `owner`: timeline, notifications and the new owner's timers. The
    notifications are saved at once, or added to `notes` (the SLA worker's digest)."""
    leads_reassign([(lead, owner)], actor, reason, policy, notes)


def leads_reassign(
    moves: list[tuple[Lead, Member]],
    actor: Actor,
    reason: str,
    policy: Policy | None = None,
    notes: list[Notification] | None = None,
) -> None:
    """`lead_reassign` for (lead, new owner) pairs of one workspace, in a few statements: one
    UPDATE per new owner, the timeline's and the timers' rows written together."""
    now = clock.now()
    events, made, by_owner = [], [], {}
    for lead, owner in moves:
        previous = lead.owner
        events.append(assignment_new(lead, owner, actor, reason))
        lead.assigned_at = now
        by_owner.setdefault(owner.pk, []).append(lead.pk)
        if previous is not None and previous.pk != owner.pk:
            made += [_given_note(lead, previous, reason), _moved_note(lead, previous, reason)]
        else:
            made.append(assigned_note(lead))
    for owner_id, ids in by_owner.items():
        Lead.objects.filter(pk__in=ids).update(owner_id=owner_id, assigned_at=now)
    if notes is None:
        _save_notifications(made)
    else:
        notes.extend(made)
    ids = [lead.pk for lead, _owner in moves]
    Timer.objects.filter(lead_id__in=ids, kind=Timer.Kind.ASSIGN, done_at__isnull=True).update(
        done_at=now
    )
    unfired = Timer.objects.filter(lead_id__in=ids, fired_at__isnull=True)
    unfired.exclude(kind__in=(Timer.Kind.ASSIGN, Timer.Kind.JOURNEY)).delete()
    workspace = moves[0][0].workspace
    policy = policy or policy_of(workspace)
    business = calendar_of(workspace, policy)
    timers = [
        timer
        for lead, owner in moves
        for timer in _owner_timers(lead, owner, policy, business, now)
    ]
    rows_insert(events, timers)


def _given_note(lead: Lead, previous: Member, reason: str) -> Notification:
    """The unsaved notification of a lead's new owner, saying whose it was and why it moved."""
    return notification_new(
        member=lead.owner,
        kind="lead_assigned",
        lead=lead,
        message=gettext_lazy("Lead #%(id)s %(name)s is yours now, from %(previous)s (%(reason)s)"),
        params={
            "id": lead.pk,
            "name": lead.contact.label,
            "previous": previous.full_name,
            "reason": ASSIGN_REASONS.get(reason, reason),
        },
    )


def _moved_note(lead: Lead, previous: Member, reason: str) -> Notification:
    """The unsaved "lead moved to …" notification of the lead's previous owner."""
    return notification_new(
        member=previous,
        kind="lead_reassigned",
        lead=lead,
        message=gettext_lazy("Lead #%(id)s moved to %(owner)s (%(reason)s)"),
        params={
            "id": lead.pk,
            "owner": lead.owner.full_name,
            "reason": ASSIGN_REASONS.get(reason, reason),
        },
    )


def open_leads_hand_on(*, member: Member, actor: Actor) -> tuple[int, int]:
    """The open leads of a member just deactivated go to the reps the rules pick now (reason
    `owner_inactive` on their timelines, the new owners told, new SLA timers); a lead no one
    can take now (at night, say) waits in the queue, which gives it out when a rep can take it.
    Returns (handed on, queued). The rules are locked before the leads, the order a capture
    takes them in."""
    open_leads = Lead.objects.filter(owner=member, is_open=True)
    if not open_leads.exists():
        return 0, 0
    router, notes = Router(member.workspace), []
    leads = list(
        open_leads.select_for_update()
        .select_related("workspace", "contact", "stage", "owner")
        .order_by("pk")
    )
    moves, waiting = [], []
    for lead in leads:
        pick = router.pick(lead, exclude={member.pk})
        if pick.owner is not None:
            moves.append((lead, pick.owner))
        else:
            waiting.append(lead)
    for start in range(0, len(moves), BATCH):
        part = moves[start : start + BATCH]
        leads_reassign(part, actor, "owner_inactive", router.policy, notes)
    if waiting:
        _leads_to_queue(waiting, actor, "owner_inactive", router)
    router.save()
    notifications_digest([note for note in notes if note.member_id != member.pk])
    return len(moves), len(waiting)


def _leads_to_queue(leads: list[Lead], actor: Actor, reason: str, router: Router) -> None:
    """Take saved leads from their owner into the queue, as if they had just arrived with no
    rep to take them: a timeline row each, the owner's timers gone, the queue's started."""
    events = [
        event_new(
            lead=lead,
            actor=actor,
            kind=LeadEvent.Kind.ASSIGNED,
            from_owner=lead.owner,
            to_owner=None,
            reason=reason,
        )
        for lead in leads
    ]
    ids = [lead.pk for lead in leads]
    Lead.objects.filter(pk__in=ids).update(owner=None, assigned_at=None)
    unfired = Timer.objects.filter(lead_id__in=ids, fired_at__isnull=True)
    unfired.exclude(kind=Timer.Kind.JOURNEY).delete()
    now = router.now
    timers = [t for lead in leads for t in _queue_timers(lead, router.policy, router.business, now)]
    rows_insert(events, timers)


def _save_notifications(notes: list[Notification]) -> None:
    Notification.objects.bulk_create(notes)
    notifications_publish(notes)


def _escalate(
    lead: Lead,
    kind: str,
    message: tuple[str, dict],
    tick: "_Tick",
    also: Member | None = None,
) -> None:
    members = {m.pk: m for m in tick.managers_of(lead)}
    if also is not None:
        members[also.pk] = also
    tick.notes.extend(
        notification_new(member=m, kind=kind, lead=lead, message=message[0], params=message[1])
        for m in members.values()
    )


# ---- the rep's work meets obligations


def sla_after_activity(
    *, lead: Lead, actor: Actor, kind: str, outcome: str, callback_at: datetime | None = None
) -> None:
    """Meet the obligations an activity fulfils, move the idle timer, plan the next attempt."""
    if lead.owner_id is None or actor.member_id != lead.owner_id:
        return
    now = clock.now()
    met = {Kind.CALL: OWED_BY_CALL}.get(kind, (Timer.Kind.FIRST_CONTACT,))
    if kind in CONTACT_KINDS:
        owed = Timer.objects.filter(lead=lead, done_at__isnull=True, member_id=lead.owner_id)
        owed.filter(kind__in=met).update(done_at=now)
    policy = policy_of(lead.workspace)
    if kind == Kind.CALL:
        _next_attempt(lead, policy, outcome, callback_at, now)
    if policy.idle_hours and not lead.stage.pauses_sla:
        due = calendar_of(lead.workspace, policy).add(now, policy.idle_hours * 60)
        idle = Timer.objects.filter(lead=lead, kind=Timer.Kind.IDLE, fired_at__isnull=True)
        idle.update(due_at=due)


def _next_attempt(lead, policy: Policy, outcome: str, callback_at, now: datetime) -> None:
    """Plan the owner's next call on an open lead: at the time the person asked to be called
    back, whatever the outcome; else, while they were not reached, after the cadence's next
    delay; once the cadence is spent, move the lead to the workspace's not-reached stage."""
    attempts = lead.call_attempts  # this call included
    cadence = list(policy.attempt_cadence or [])
    if not lead.is_open or (callback_at is None and outcome not in NOT_REACHED):
        return
    if callback_at is None and attempts > len(cadence):
        if policy.not_reached_stage_id and lead.stage_id != policy.not_reached_stage_id:
            lead_change_stage(
                lead=lead,
                actor=Actor.system(lead.workspace, "SLA"),
                stage_key=policy.not_reached_stage.key,
                reason=_("Not reached after %(n)s call attempts") % {"n": attempts},
            )
        return
    if callback_at is not None:
        due = max(callback_at, now)  # a time just gone (the form allows a day back): now
    else:
        due = _after(cadence[attempts - 1], calendar_of(lead.workspace, policy), now)
    Timer.objects.create(
        workspace_id=lead.workspace_id,
        lead=lead,
        member_id=lead.owner_id,
        kind=Timer.Kind.ATTEMPT,
        attempt=attempts + 1,
        due_at=due,
        created_at=now,
    )


CADENCE_STEPS = 20  # delays a call plan may hold


def cadence_errors(cadence) -> list[str]:
    if not isinstance(cadence, list) or len(cadence) > CADENCE_STEPS:
        return [f"a list of at most {CADENCE_STEPS} delays"]
    return [f"{step!r} is not like 30m, 2h or next_morning" for step in cadence if not _delay(step)]


def _delay(step) -> timedelta | str | None:
    text = str(step).strip().lower()
    if text == "next_morning":
        return text
    number, unit = text[:-1], text[-1:]
    if not number.isdigit() or unit not in "mhd" or int(number) > 100_000:
        return None
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: int(number)})


def _after(step, business, now: datetime) -> datetime:
    delay = _delay(step)
    if delay == "next_morning":
        return business.next_opening_after_today(now)
    return business.add(now, (delay or timedelta(0)).total_seconds() / 60)


def sla_after_stage(*, lead: Lead, was_open: bool, was_paused: bool) -> None:
    """A closed lead drops its future timers; a paused stage stops the idle clock."""
    now = clock.now()
    future = Timer.objects.filter(lead=lead, fired_at__isnull=True, due_at__gt=now)
    if not lead.is_open:
        future.delete()
        if lead.owner_id:  # its owner has room for one more
            queue_wake(workspace_id=lead.workspace_id)
        return
    if lead.stage.pauses_sla:
        future.filter(kind=Timer.Kind.IDLE).delete()
        return
    if (was_paused or not was_open) and lead.owner is not None:
        policy = policy_of(lead.workspace)
        if policy.idle_hours:
            due = calendar_of(lead.workspace, policy).add(now, policy.idle_hours * 60)
            Timer.objects.bulk_create([_timer(lead, Timer.Kind.IDLE, due, lead.owner)])


def queue_wake(*, workspace_id: int) -> None:
    """Someone may be able to take queued leads now: try them at the next tick."""
    Timer.objects.filter(
        workspace_id=workspace_id, kind=Timer.Kind.QUEUE, fired_at__isnull=True
    ).update(due_at=clock.now())


# ---- workers fire due timers


def timers_fire_due(*, limit: int = BATCH) -> int:
    """Fire up to `limit` due timers, each exactly once; returns how many were claimed."""
    with transaction.atomic():
        tick = _Tick(clock.now())
        due = (
            Timer.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(fired_at__isnull=True, due_at__lte=tick.now)
            .order_by("due_at", "id")[:limit]  # a tie (woken queue): oldest first
        )
        timers = list(due)
        leads = _lock_leads({t.lead_id for t in timers})
        fired = [t.pk for t in timers if _fire_one(t, leads.get(t.lead_id), tick)]
        Timer.objects.filter(pk__in=fired).update(fired_at=tick.now)
        tick.save()
    return len(timers)


class _Tick:
    """What one tick reads once per workspace: the router (which locks the rules, so only
    when a lead is to be assigned), the policy and the managers to escalate to."""

    def __init__(self, now: datetime):
        self.now = now
        self.routers: dict[int, Router] = {}
        self.policies: dict[int, Policy] = {}
        self.managers: dict[int, list[Member]] = {}
        self.notes: list[Notification] = []  # sent together at the end (notifications_digest)

    def router(self, lead: Lead) -> Router:
        if lead.workspace_id not in self.routers:
            self.routers[lead.workspace_id] = Router(lead.workspace)
            self.policies[lead.workspace_id] = self.routers[lead.workspace_id].policy
        return self.routers[lead.workspace_id]

    def policy(self, lead: Lead) -> Policy:
        if lead.workspace_id not in self.policies:
            self.policies[lead.workspace_id] = policy_of(lead.workspace)
        return self.policies[lead.workspace_id]

    def managers_of(self, lead: Lead) -> list[Member]:
        if lead.workspace_id not in self.managers:
            self.managers[lead.workspace_id] = list(
                Member.objects.filter(
                    workspace_id=lead.workspace_id,
                    role__in=(Role.MANAGER, Role.ADMIN),
                    active=True,
                )
            )
        return self.managers[lead.workspace_id]

    def save(self) -> None:
        for router in self.routers.values():
            router.save()
        notifications_digest(self.notes)


def _lock_leads(ids: set[int]) -> dict[int, Lead]:
    """The timers' leads, locked; a lead a request holds at this instant is left out."""
    if not ids:
        return {}
    leads = (
        Lead.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("workspace", "contact", "owner", "stage")
        .filter(pk__in=ids)
    )
    return {lead.pk: lead for lead in leads}


def _fire_one(timer: Timer, lead: Lead | None, tick: _Tick) -> bool:
    """Act on one timer; False leaves it for a later tick (its lead is busy, or re-armed)."""
    if lead is None:  # busy now (try again next tick), or deleted with its timers
        return False
    sent = len(tick.notes)
    try:
        with transaction.atomic():
            return _ACTIONS[timer.kind](timer, lead, tick)
    except Exception:  # one broken timer must not block the others
        log.exception("timer %s (%s) failed", timer.pk, timer.kind)
        del tick.notes[sent:]  # what it was to say went with its savepoint
        return True


def _fire_queue(timer: Timer, lead: Lead, tick: _Tick) -> bool:
    if not lead.is_open or lead.owner_id is not None:
        return True
    router = tick.router(lead)
    pick = router.pick(lead)
    if pick.owner is None:
        timer.due_at = max(tick.now + QUEUE_RETRY, router.business.add(tick.now, 0))
        timer.save(update_fields=["due_at"])
        return False
    actor = Actor.system(lead.workspace, "SLA")
    lead_reassign(lead, pick.owner, actor, pick.reason, router.policy, tick.notes)
    return True


def _fire_assign(timer: Timer, lead: Lead, tick: _Tick) -> bool:
    if lead.is_open and lead.owner_id is None and timer.done_at is None:
        text = gettext_lazy("Lead #%(id)s has waited %(m)s minutes: no rep can take it")
        minutes = int((tick.now - lead.created_at).total_seconds() // 60)
        message = (text, {"id": lead.pk, "m": minutes})
        _escalate(lead, "lead_unassigned", message, tick)
    return True


def _fire_obligation(timer: Timer, lead: Lead, tick: _Tick) -> bool:
    if timer.done_at is None and lead.is_open and lead.owner_id == timer.member_id:
        text = gettext_lazy("SLA missed on lead #%(id)s: %(what)s was due at %(due)s")
        due = timer.due_at.astimezone(ZoneInfo(lead.workspace.time_zone))
        what = Timer.Kind(timer.kind).label
        message = (text, {"id": lead.pk, "what": what, "due": due.strftime("%H:%M %d/%m")})
        _escalate(lead, "sla_breach", message, tick, also=lead.owner)
    return True


def _fire_idle(timer: Timer, lead: Lead, tick: _Tick) -> bool:
    if not lead.is_open or lead.owner_id != timer.member_id or lead.stage.pauses_sla:
        return True
    router = tick.router(lead)
    pick = router.pick(lead, exclude={lead.owner_id})
    if pick.owner is None:  # nobody else can take it: keep it and look again in an hour
        timer.due_at = router.business.add(tick.now, 60)
        timer.save(update_fields=["due_at"])
        return False
    actor = Actor.system(lead.workspace, "SLA")
    lead_reassign(lead, pick.owner, actor, "idle", router.policy, tick.notes)
    return True


def _fire_journey(timer: Timer, lead: Lead, tick: _Tick) -> bool:
    policy = tick.policy(lead)
    if lead.is_open and policy.journey_end_stage_id:
        lead_change_stage(
            lead=lead,
            actor=Actor.system(lead.workspace, "SLA"),
            stage_key=policy.journey_end_stage.key,
            reason=_("The care journey ended after %(d)s days") % {"d": policy.journey_days},
        )
    return True


_ACTIONS = {
    Timer.Kind.QUEUE: _fire_queue,
    Timer.Kind.ASSIGN: _fire_assign,
    Timer.Kind.FIRST_CONTACT: _fire_obligation,
    Timer.Kind.ATTEMPT: _fire_obligation,
    Timer.Kind.IDLE: _fire_idle,
    Timer.Kind.JOURNEY: _fire_journey,
}


def timers_run(*, stop: threading.Event, interval: float = 1.0) -> None:
    """Fire due timers until `stop` is set: at once while there is a backlog, else every tick."""
    while not stop.is_set():
        try:
            claimed = timers_fire_due()
        except DatabaseError:  # the database went away for a moment: try again next tick
            log.exception("firing timers failed")
            claimed = 0
        finally:
            close_old_connections()
        if claimed < BATCH:
            stop.wait(interval)
