from django.db import transaction
from django.utils.translation import gettext as _

from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Member, Role
from leadloop.pipeline.models import Lead
from leadloop.routing.sla import lead_reassign


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
    lead_reassign(lead, owner, actor, reason[:500] or "manual")
    return lead
