from django.db import transaction
from django.utils.translation import gettext as _

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Member, Role
from leadloop.core.selectors import sales_members
from leadloop.notifications.services import notification_create
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import event_record
from leadloop.routing.models import RoundRobinCursor


def _set_owner(lead: Lead, owner: Member, actor: Actor, reason: str) -> Lead:
    previous = lead.owner
    lead.owner, lead.assigned_at = owner, clock.now()
    lead.save(update_fields=["owner", "assigned_at"])
    event_record(
        lead=lead,
        actor=actor,
        kind=LeadEvent.Kind.ASSIGNED,
        from_owner=previous,
        to_owner=owner,
        reason=reason,
    )
    notification_create(
        member=owner,
        kind="lead_assigned",
        lead=lead,
        message=_("New lead for you: %(name)s") % {"name": lead.contact.full_name or lead.pk},
    )
    return lead


def next_sales_member(*, workspace) -> Member | None:
    """Round robin over active sales members by id; the cursor row serialises concurrent picks."""
    cursor, _created = RoundRobinCursor.objects.get_or_create(workspace=workspace)
    cursor = RoundRobinCursor.objects.select_for_update().get(pk=cursor.pk)
    members = sales_members(workspace=workspace).order_by("id")
    chosen = members.filter(id__gt=cursor.last_member_id or 0).first() or members.first()
    if chosen:
        cursor.last_member = chosen
        cursor.save(update_fields=["last_member"])
    return chosen


@transaction.atomic
def lead_assign_round_robin(*, lead: Lead, actor: Actor) -> Lead:
    owner = next_sales_member(workspace=lead.workspace)
    return _set_owner(lead, owner, actor, "round_robin") if owner else lead


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
    return _set_owner(lead, owner, actor, reason[:500] or "manual")
