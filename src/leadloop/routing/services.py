from django.db import transaction
from django.utils.translation import gettext as _

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Member, Role
from leadloop.core.selectors import sales_members
from leadloop.notifications.services import notification_new
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import event_new
from leadloop.routing.models import RoundRobinCursor


def assignment_new(lead: Lead, owner: Member, actor: Actor, reason: str):
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
    contact = lead.contact
    name = contact.full_name or contact.phone_raw or contact.email
    notification = notification_new(
        member=owner,
        kind="lead_assigned",
        lead=lead,
        message=_("New lead for you: %(name)s") % {"name": name},
    )
    return event, notification


def round_robin_owners(*, workspace, count: int) -> list[Member]:
    """The next `count` active sales members in turn (by id, wrapping round); [] when none.

    The workspace's cursor row stays locked until the transaction ends, so concurrent captures
    never hand out the same turn twice.
    """
    cursor = RoundRobinCursor.objects.select_for_update().filter(workspace=workspace).first()
    if cursor is None:
        RoundRobinCursor.objects.get_or_create(workspace=workspace)
        cursor = RoundRobinCursor.objects.select_for_update().get(workspace=workspace)
    members = list(sales_members(workspace=workspace).order_by("id"))
    if not members or count <= 0:
        return []
    owners, last = [], cursor.last_member_id or 0
    for _turn in range(count):
        owner = next((m for m in members if m.id > last), members[0])
        owners.append(owner)
        last = owner.id
    cursor.last_member_id = last
    cursor.save(update_fields=["last_member"])
    return owners


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
    event, notification = assignment_new(lead, owner, actor, reason[:500] or "manual")
    lead.save(update_fields=["owner", "assigned_at"])
    event.save()
    notification.save()
    return lead
