from django.db.models import QuerySet

from leadloop.activities.models import Activity
from leadloop.pipeline.models import Lead


def activity_list(*, lead: Lead) -> QuerySet[Activity]:
    return Activity.objects.filter(lead=lead).select_related("member")
