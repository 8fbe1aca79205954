from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from leadloop.activities.models import CONTACT_KINDS, Activity, Kind, Outcome
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.pipeline.models import Lead, LeadEvent, Stage
from leadloop.pipeline.services import event_record, lead_can_work
from leadloop.routing.sla import sla_after_activity

MAX_BODY = 10_000
MAX_DURATION_S = 24 * 3600
CALLBACK_LATE = timedelta(days=1)  # a call logged late may name a time just gone
CALLBACK_AHEAD = timedelta(days=5 * 365)


@dataclass(frozen=True)
class Logged:
    activity: Activity
    suggested_stage: Stage | None


def _validate(kind: str, outcome: str, duration_s: int, body: str, callback_at) -> None:
    errors = {}
    now = clock.now()
    if callback_at is not None and not now - CALLBACK_LATE <= callback_at <= now + CALLBACK_AHEAD:
        errors["callback_at"] = [_("From now to five years ahead.")]
    if kind not in Kind.values:
        errors["kind"] = [_("Unknown kind.")]
    if not 0 <= duration_s <= MAX_DURATION_S:
        errors["duration_s"] = [_("Between 0 and 86400 seconds.")]
    if len(body) > MAX_BODY:
        errors["body"] = [_("At most 10,000 characters.")]
    if outcome and kind != Kind.CALL:
        errors["outcome"] = [_("Only a call has an outcome.")]
    if callback_at is not None and kind != Kind.CALL:
        errors["callback_at"] = [_("Only a call has a callback time.")]
    elif outcome and outcome not in Outcome.values:
        errors["outcome"] = [_("One of: %(outcomes)s.") % {"outcomes": ", ".join(Outcome.values)}]
    if errors:
        raise ValidationFailed(_("The activity is not valid."), fields=errors)


def suggested_stage(*, lead: Lead, outcome: str) -> Stage | None:
    if not outcome:
        return None
    stages = Stage.objects.filter(workspace_id=lead.workspace_id, archived=False)
    return next((s for s in stages if outcome in s.outcomes), None)


@transaction.atomic
def activity_log(
    *,
    lead: Lead,
    actor: Actor,
    kind: str,
    outcome: str = "",
    duration_s: int = 0,
    body: str = "",
    callback_at: datetime | None = None,
) -> Logged:
    """Record a call, note, e-mail …; the owner's first call, SMS or e-mail is the first contact.

    The activity meets the SLA obligations it fulfils; a call plans the next attempt at
    `callback_at` when the person asked for a time (kept on the timeline), else after the
    cadence's next delay when it did not reach them.
    """
    actor.require(lead_can_work(lead, actor))
    _validate(kind, outcome, duration_s, body, callback_at)
    now = clock.now()
    lead = Lead.objects.select_for_update().select_related("workspace", "stage").get(pk=lead.pk)
    updates = {"last_activity_at": now}
    attempt = None
    if kind == Kind.CALL:
        attempt = lead.call_attempts + 1
        updates["call_attempts"] = F("call_attempts") + 1
    if kind in CONTACT_KINDS and lead.first_contact_at is None and lead.owner_id == actor.member_id:
        updates["first_contact_at"] = now
    Lead.objects.filter(pk=lead.pk).update(**updates)
    activity = Activity.objects.create(
        workspace_id=lead.workspace_id,
        lead=lead,
        member=actor.member,
        kind=kind,
        outcome=outcome,
        duration_s=duration_s,
        attempt=attempt,
        body=body,
        at=now,
    )
    event_record(
        lead=lead,
        actor=actor,
        kind=LeadEvent.Kind.ACTIVITY,
        data={
            "activity_id": activity.pk,
            "kind": kind,
            "outcome": outcome,
            **({"callback_at": callback_at.isoformat()} if callback_at else {}),
        },
    )
    lead.call_attempts = attempt or lead.call_attempts
    sla_after_activity(lead=lead, actor=actor, kind=kind, outcome=outcome, callback_at=callback_at)
    return Logged(activity, suggested_stage(lead=lead, outcome=outcome))
