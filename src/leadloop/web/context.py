from functools import partial

from leadloop.notifications.selectors import unread_count


def navigation(request) -> dict:
    """The signed-in member, and their unread notification count (queried only when shown)."""
    member = getattr(request, "member", None)
    return {
        "member": member,
        "actor": getattr(request, "actor", None),
        "unread_notifications": partial(unread_count, member=member) if member else 0,
    }
