from django.db.models import QuerySet

from leadloop.core.models import Member
from leadloop.notifications.models import Notification


def notification_list(*, member: Member) -> QuerySet[Notification]:
    return Notification.objects.filter(member=member).select_related("lead__contact")


def unread_count(*, member: Member) -> int:
    return Notification.objects.filter(member=member, read_at__isnull=True).count()


def notification_last_id(*, member: Member) -> int:
    """The id of the member's newest notification (0 when there is none)."""
    last = Notification.objects.filter(member=member).order_by("-id").values_list("id", flat=True)
    return last.first() or 0


def notifications_after(
    *, member: Member, after_id: int, skip: set[int], limit: int
) -> list[Notification]:
    """The member's notifications with an id above `after_id`, oldest first, except `skip`.

    An open stream skips what it sent in the last half minute (hundreds of ids for a busy rep):
    their ids are read and left out here rather than sent to the database as a list.
    """
    above = Notification.objects.filter(member=member, id__gt=after_id).order_by("id")
    ids = above.values_list("id", flat=True)[: limit + len(skip)]  # holds `limit` unskipped
    wanted = [pk for pk in ids if pk not in skip][:limit]
    return list(Notification.objects.filter(pk__in=wanted).order_by("id")) if wanted else []
