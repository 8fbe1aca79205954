from functools import partial

from leadloop.notifications.selectors import notification_last_id, unread_count


def navigation(request) -> dict:
    """The signed-in member, their unread notification count, and the id of their newest
    notification, where the page's live stream starts (queried only when shown)."""
    member = getattr(request, "member", None)
    return {
        "member": member,
        "actor": getattr(request, "actor", None),
        "unread_notifications": partial(unread_count, member=member) if member else 0,
        "last_notification": partial(notification_last_id, member=member) if member else 0,
    }
