from django.db.models import QuerySet

from leadloop.core.models import Member
from leadloop.notifications.models import Notification


def notification_list(*, member: Member) -> QuerySet[Notification]:
    return Notification.objects.filter(member=member).select_related("lead__contact")


def unread_count(*, member: Member) -> int:
    return Notification.objects.filter(member=member, read_at__isnull=True).count()
