from django.db.models import QuerySet

from leadloop.campaigns.models import Campaign, Source
from leadloop.core.access import Actor
from leadloop.core.models import Workspace


def campaign_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace=workspace).select_related("source")


def source_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Source]:
    return Source.objects.filter(workspace=workspace)
