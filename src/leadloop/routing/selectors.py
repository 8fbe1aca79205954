from django.db.models import F, OuterRef, QuerySet, Subquery

from leadloop.core.access import Actor
from leadloop.core.models import Workspace
from leadloop.pipeline.models import Lead
from leadloop.routing.models import Timer


def queue_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Lead]:
    """The member's own open leads, most urgent first.

    Urgency is the earliest due time among the lead's obligations still open for the member
    (first contact, call attempts), annotated as `due_at`, `due_kind` and `due_attempt`; the
    leads owing nothing follow, oldest first.
    """
    fetched_by.require(fetched_by.works_leads)
    if fetched_by.member is None:
        return Lead.objects.none()
    owed = Timer.objects.filter(
        lead=OuterRef("pk"),
        member_id=fetched_by.member_id,
        kind__in=Timer.OBLIGATIONS,
        done_at__isnull=True,
    ).order_by("due_at", "id")
    return (
        Lead.objects.filter(workspace=workspace, owner_id=fetched_by.member_id, is_open=True)
        .select_related("contact", "source", "stage")
        .annotate(
            due_at=Subquery(owed.values("due_at")[:1]),
            due_kind=Subquery(owed.values("kind")[:1]),
            due_attempt=Subquery(owed.values("attempt")[:1]),
        )
        .order_by(F("due_at").asc(nulls_last=True), "created_at", "id")
    )
