from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from leadloop.core.access import Actor
from leadloop.core.errors import NotFound
from leadloop.core.joined import fetch_joined
from leadloop.core.models import Role, Workspace
from leadloop.intake.models import Channel, Delivery, Touch
from leadloop.pipeline.models import Lead


def touch_list(*, lead: Lead) -> QuerySet[Touch]:
    """The lead's inbound submissions, oldest first, with their source, campaign, channel and
    file."""
    touches = lead.touches.select_related("source", "campaign", "channel", "import_job")
    return touches.order_by("received_at", "id")


def delivery_list(
    *, workspace: Workspace, fetched_by: Actor, status: str = "", provider: str = ""
) -> QuerySet[Delivery]:
    """The workspace's webhook deliveries, newest first, without their bodies (admins only)."""
    fetched_by.require(fetched_by.administers, _("Only admins can open the inbox."))
    deliveries = Delivery.objects.filter(workspace=workspace).defer("body", "headers", "outcomes")
    if status:
        deliveries = deliveries.filter(status=status)
    if provider:
        deliveries = deliveries.filter(provider=provider)
    return deliveries.order_by("-received_at", "-id")


def delivery_status_counts(*, workspace: Workspace, fetched_by: Actor) -> dict[str, int]:
    fetched_by.require(fetched_by.administers, _("Only admins can open the inbox."))
    deliveries = Delivery.objects.filter(workspace=workspace).order_by()
    return dict(deliveries.values_list("status").annotate(n=Count("id")))


def delivery_get(*, workspace: Workspace, fetched_by: Actor, delivery_id: int) -> Delivery:
    fetched_by.require(fetched_by.administers, _("Only admins can open the inbox."))
    delivery = Delivery.objects.filter(workspace=workspace, pk=delivery_id).first()
    if delivery is None:
        raise NotFound(_("Not found."))
    return delivery


def channel_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Channel]:
    fetched_by.require(fetched_by.role in (Role.ADMIN, Role.MARKETER))
    return Channel.objects.filter(workspace=workspace).order_by("kind", "name", "id")


def channel_get(*, workspace: Workspace, fetched_by: Actor, channel_id: int) -> Channel:
    channel = channel_list(workspace=workspace, fetched_by=fetched_by).filter(id=channel_id).first()
    if channel is None:
        raise NotFound(_("Channel not found."))
    return channel


def hook_channel(*, workspace_slug: str, provider: str) -> Channel | None:
    """The workspace's active channel of a provider, with its workspace, for its webhook.

    Every delivery reads it, so it is written out (`core/joined.py`): no query compiling."""
    found = fetch_joined(
        "SELECT {select} FROM {c} JOIN {w} ON w.id = c.workspace_id"
        " WHERE w.slug = %s AND c.kind = %s AND c.active = %s ORDER BY c.id LIMIT 1",
        [workspace_slug, provider, True],
        c=Channel,
        w=Workspace,
    )
    return found[0][0] if found else None
