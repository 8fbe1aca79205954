"""The one clock: every service reads time here, so tests and the SLA engine can move it."""

from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    return timezone.now() + _offset


@contextmanager
def travel(delta: timedelta):
    """Move the clock forward (or back) by `delta` inside the block."""
    global _offset
    previous = _offset
    _offset = previous + delta
    try:
        yield
    finally:
        _offset = previous
