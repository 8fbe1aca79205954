from django.db import connection
from django.db.models import QuerySet

from leadloop.core.joined import any_of, fetch_joined, listed
from leadloop.core.models import Member
from leadloop.notifications.models import Notification


def notification_list(*, member: Member) -> QuerySet[Notification]:
    return Notification.objects.filter(member=member).select_related("lead__contact")


# The reads of an open event stream, written by hand: each wake-up of a busy rep's stream ran
# three compiled querysets, which cost more CPU than the database took to answer them.

NOTIFICATIONS = Notification._meta.db_table


def _scalar(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def unread_count(*, member: Member) -> int:
    return _scalar(
        f"SELECT count(*) FROM {NOTIFICATIONS} WHERE member_id = %s AND read_at IS NULL",
        [member.pk],
    )


def notification_last_id(*, member: Member) -> int:
    """The id of the member's newest notification (0 when there is none)."""
    return _scalar(
        f"SELECT coalesce(max(id), 0) FROM {NOTIFICATIONS} WHERE member_id = %s", [member.pk]
    )


def notifications_after(
    *, member: Member, after_id: int, skip: set[int], limit: int
) -> list[Notification]:
    """The member's notifications with an id above `after_id`, oldest first, except `skip`.

    An open stream skips what it sent in the last half minute (hundreds of ids for a busy rep):
    their ids are read and left out here rather than sent to the database as a list.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {NOTIFICATIONS} WHERE member_id = %s AND id > %s ORDER BY id LIMIT %s",
            [member.pk, after_id, limit + len(skip)],  # holds `limit` unskipped
        )
        wanted = [pk for (pk,) in cursor.fetchall() if pk not in skip][:limit]
    if not wanted:
        return []
    found = fetch_joined(
        "SELECT {select} FROM {n} WHERE " + any_of("n.id") + " ORDER BY n.id",
        [listed(wanted)],
        n=Notification,
    )
    return [note for (note,) in found]


def notifications_among(*, member: Member, ids: set[int]) -> tuple[list[Notification], int]:
    """The member's notifications among `ids`, oldest first, and the member's unread count,
    in one statement (what a stream reads when it is told which rows are new)."""
    if not ids:
        return [], 0
    found = fetch_joined(
        f"SELECT (SELECT count(*) FROM {NOTIFICATIONS} u WHERE u.member_id = %s"
        " AND u.read_at IS NULL), {select} FROM {n} WHERE n.member_id = %s AND "
        + any_of("n.id")
        + " ORDER BY n.id",
        [member.pk, member.pk, listed(sorted(ids))],
        leading=1,
        n=Notification,
    )
    return [note for _unread, note in found], (found[0][0] if found else 0)
