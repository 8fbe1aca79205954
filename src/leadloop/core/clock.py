"""The one clock: every service reads time here, so tests and the SLA engine can move it."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """Aware, in UTC, as Django's `timezone.now()` with USE_TZ (always on here), which reads
    the setting on every call: a capture asks for the time several times a row."""
    return datetime.now(UTC) + _offset


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
