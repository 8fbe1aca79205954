"""Waking members' open event streams (filled in by the real-time work)."""


def announce(member_ids: set[int]) -> None:
    """Tell every web process that these members have new notifications."""
