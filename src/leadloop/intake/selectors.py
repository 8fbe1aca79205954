from django.db.models import QuerySet
from django.utils.translation import gettext as _

from leadloop.core.access import Actor
from leadloop.core.errors import NotFound
from leadloop.core.models import Role, Workspace
from leadloop.intake.models import Channel, Touch
from leadloop.pipeline.models import Lead


def touch_list(*, lead: Lead) -> QuerySet[Touch]:
    """The lead's inbound submissions, oldest first, with their source and campaign."""
    touches = lead.touches.select_related("source", "campaign", "channel")
    return touches.order_by("received_at", "id")


def channel_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Channel]:
    fetched_by.require(fetched_by.role in (Role.ADMIN, Role.MARKETER))
    return Channel.objects.filter(workspace=workspace).order_by("kind", "name", "id")


def channel_get(*, workspace: Workspace, fetched_by: Actor, channel_id: int) -> Channel:
    channel = channel_list(workspace=workspace, fetched_by=fetched_by).filter(id=channel_id).first()
    if channel is None:
        raise NotFound(_("Channel not found."))
    return channel
