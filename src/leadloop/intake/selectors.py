from django.db.models import QuerySet

from leadloop.intake.models import Touch
from leadloop.pipeline.models import Lead


def touch_list(*, lead: Lead) -> QuerySet[Touch]:
    """The lead's inbound submissions, oldest first, with their source and campaign."""
    touches = lead.touches.select_related("source", "campaign", "channel")
    return touches.order_by("received_at", "id")
