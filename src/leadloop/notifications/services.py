from django.db import transaction

from leadloop.core import clock
from leadloop.core.models import Member
from leadloop.notifications.models import Notification
from leadloop.notifications.push import announce
from leadloop.pipeline.models import Lead


def notification_new(*, member: Member, kind: str, lead: Lead | None, message: str):
    """An unsaved notification; callers save it, alone or in bulk."""
    return Notification(
        workspace_id=member.workspace_id,
        member=member,
        kind=kind,
        lead=lead,
        message=message[:300],
        created_at=clock.now(),
    )


def notifications_mark_read(*, member: Member) -> int:
    unread = Notification.objects.filter(member=member, read_at__isnull=True)
    return unread.update(read_at=clock.now())


def notifications_publish(notifications: list[Notification]) -> None:
    """After the commit, wake the open event streams of the members these saved rows are for."""
    members = {n.member_id for n in notifications}
    if members:
        transaction.on_commit(lambda: announce(members))
