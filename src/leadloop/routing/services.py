from django.db import transaction
from django.utils.translation import gettext as _

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Member, Role
from leadloop.core.selectors import sales_members
from leadloop.notifications.models import Notification
from leadloop.notifications.services import notification_new
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import event_new
from leadloop.routing.models import RoundRobinCursor


def _assignment(lead: Lead, owner: Member, actor: Actor, reason: str):
    """Give `lead` to `owner` in memory; returns its unsaved timeline row and notification."""
    previous = lead.owner
    lead.owner, lead.assigned_at = owner, clock.now()
    event = event_new(
        lead=lead,
        actor=actor,
        kind=LeadEvent.Kind.ASSIGNED,
        from_owner=previous,
        to_owner=owner,
        reason=reason,
    )
    name = lead.contact.full_name or f"#{lead.pk}"
    notification = notification_new(
        member=owner,
        kind="lead_assigned",
        lead=lead,
        message=_("New lead for you: %(name)s") % {"name": name},
    )
    return event, notification


def leads_assign_round_robin(*, workspace, leads: list[Lead], actor: Actor) -> None:
    """Give each new lead, in order, to the next active sales member (by id, wrapping round).

    The workspace's cursor row is locked meanwhile, so concurrent captures never pick alike.
    """
    if not leads:
        return
    cursor, _created = RoundRobinCursor.objects.get_or_create(workspace=workspace)
    cursor = RoundRobinCursor.objects.select_for_update().get(pk=cursor.pk)
    members = list(sales_members(workspace=workspace).order_by("id"))
    if not members:
        return
    last, events, notifications = cursor.last_member_id or 0, [], []
    for lead in leads:
        owner = next((m for m in members if m.id > last), members[0])
        last = owner.id
        event, notification = _assignment(lead, owner, actor, "round_robin")
        events.append(event)
        notifications.append(notification)
    cursor.last_member_id = last
    cursor.save(update_fields=["last_member"])
    Lead.objects.bulk_update(leads, ["owner", "assigned_at"])
    LeadEvent.objects.bulk_create(events)
    Notification.objects.bulk_create(notifications)


@transaction.atomic
def lead_assign(*, lead: Lead, actor: Actor, owner_id: int, reason: str = "") -> Lead:
    actor.require(actor.assigns_leads, _("Only managers and admins can assign leads."))
    owner = Member.objects.filter(workspace_id=lead.workspace_id, id=owner_id).first()
    if owner is None or owner.role not in (Role.SALES, Role.MANAGER, Role.ADMIN):
        raise ValidationFailed(
            _("Choose a sales member of this workspace."), fields={"owner_id": [str(owner_id)]}
        )
    if not owner.active:
        raise ValidationFailed(_("This member is inactive."), fields={"owner_id": [str(owner_id)]})
    if owner.pk == lead.owner_id:
        return lead
    event, notification = _assignment(lead, owner, actor, reason[:500] or "manual")
    lead.save(update_fields=["owner", "assigned_at"])
    event.save()
    notification.save()
    return lead
