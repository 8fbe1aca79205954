"""Business time: opening spans, holidays, and adding business minutes."""

from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from leadloop.routing.hours import Calendar, hours_errors
from tests.core.support import local

SPLIT = {"0": [["08:00", "12:00"], ["13:30", "17:30"]], "1": [["08:00", "12:00"]]}
MONDAY = date(2026, 11, 23)


def calendar(hours=SPLIT, holidays=()):
    return Calendar.of(hours, holidays, "Asia/Ho_Chi_Minh")


def test_minutes_skip_the_lunch_break_and_the_night():
    assert calendar().add(local(MONDAY, 11, 50), 15) == local(MONDAY, 13, 35)
    assert calendar().add(local(MONDAY, 17, 20), 30) == local(MONDAY + timedelta(1), 8, 20)


def test_a_holiday_and_a_closed_weekday_are_skipped():
    tuesday = MONDAY + timedelta(days=1)
    moment = local(MONDAY, 17, 0)
    assert calendar(holidays=[tuesday.isoformat()]).add(moment, 60) == local(
        MONDAY + timedelta(days=7), 8, 30
    )


def test_open_and_closed_moments():
    assert calendar().is_open(local(MONDAY, 8, 0))
    assert not calendar().is_open(local(MONDAY, 12, 0))
    assert not calendar().is_open(local(MONDAY + timedelta(days=2), 10))
    assert calendar({}).is_open(local(MONDAY, 3))


def test_midnight_is_written_24_00():
    night = calendar({"0": [["22:00", "24:00"]]})
    assert night.add(local(MONDAY, 23, 0), 90) == local(MONDAY + timedelta(days=7), 22, 30)


def test_bad_hours_are_reported_and_ignored():
    bad = {"7": [], "0": [["9:00", "08:00"]], "1": [["8h", "17:00"]], "2": "all day"}
    assert len(hours_errors(bad)) == 4
    assert hours_errors(SPLIT) == []
    assert hours_errors([]) == ["not an object"]
    assert calendar({"0": [["x", "y"]]}).add(local(MONDAY, 9), 5) > local(MONDAY, 9)


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1)),
    minutes=st.integers(min_value=0, max_value=5_000),
)
def test_business_time_never_runs_backwards_and_lands_in_an_open_span(start, minutes):
    moment = start.replace(tzinfo=calendar().zone)
    due = calendar().add(moment, minutes)
    assert due >= moment + timedelta(minutes=minutes)  # open time is never more than wall time
    assert calendar().is_open(due) or any(
        closes == due for _o, closes in calendar().spans(due.astimezone(calendar().zone).date())
    )
