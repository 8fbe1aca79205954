"""Business time: who is on shift, and what "N business minutes later" means.

Hours are {"0": [["08:00", "12:00"], ["13:30", "17:30"]], ...} by weekday (0 = Monday) in the
workspace's time zone; an empty dict means always open. Holidays are ISO dates, closed all day.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

MAX_DAYS = 400  # a week of closed days a year at most is the norm; this bounds bad settings


def parse_hhmm(text: str) -> time | None:
    """'08:30' → time(8, 30); '24:00' → time.max; None when malformed."""
    hours, sep, minutes = str(text).strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return None
    h, m = int(hours), int(minutes)
    if (h, m) == (24, 0):
        return time.max
    return time(h, m) if h < 24 and m < 60 else None


def hours_errors(hours) -> list[str]:
    """What is wrong with a weekly hours setting ([] when it is right)."""
    if not isinstance(hours, dict):
        return ["not an object"]
    errors = []
    for day, spans in hours.items():
        if day not in {str(d) for d in range(7)} or not isinstance(spans, list):
            errors.append(_("%(day)s: weekday 0-6 with a list of [start, end]") % {"day": day})
            continue
        read = []
        for span in spans:
            ok = isinstance(span, list | tuple) and len(span) == 2
            start, end = (parse_hhmm(span[0]), parse_hhmm(span[1])) if ok else (None, None)
            if start is None or end is None or start >= end:
                message = _("%(day)s: %(span)s is not a start and end like 08:00-17:30")
                errors.append(message % {"day": day, "span": span})
            else:
                read.append((start, end))
        read.sort()
        if any(later[0] < earlier[1] for earlier, later in pairwise(read)):
            errors.append(_("%(day)s: the spans overlap") % {"day": day})
    return errors


@dataclass(frozen=True)
class Calendar:
    hours: dict
    holidays: frozenset[date]
    zone: ZoneInfo

    @classmethod
    def of(cls, hours: dict, holidays, time_zone: str) -> "Calendar":
        days = set()
        for text in holidays or ():
            try:
                days.add(date.fromisoformat(str(text)))
            except ValueError:
                continue
        return cls(hours or {}, frozenset(days), ZoneInfo(time_zone))

    @property
    def always_open(self) -> bool:
        return not self.hours and not self.holidays

    def spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open spans of one local day, as aware datetimes."""
        if day in self.holidays:
            return []
        if not self.hours:
            start = datetime.combine(day, time.min, self.zone)
            return [(start, start + timedelta(days=1))]
        spans = []
        for raw_start, raw_end in self.hours.get(str(day.weekday()), []):
            start, end = parse_hhmm(raw_start), parse_hhmm(raw_end)
            if start is None or end is None or start >= end:
                continue
            opens = datetime.combine(day, start, self.zone)
            closes = (
                datetime.combine(day + timedelta(days=1), time.min, self.zone)
                if end == time.max
                else datetime.combine(day, end, self.zone)
            )
            spans.append((opens, closes))
        return sorted(spans)

    def _spans_from(self, moment: datetime):
        day = moment.astimezone(self.zone).date()
        for offset in range(MAX_DAYS):
            for opens, closes in self.spans(day + timedelta(days=offset)):
                if closes > moment:
                    yield max(opens, moment), closes

    def is_open(self, moment: datetime) -> bool:
        span = next(self._spans_from(moment), None)
        return span is not None and span[0] == moment

    def add(self, moment: datetime, minutes: float) -> datetime:
        """`minutes` of open time after `moment` (the next opening when closed, for 0)."""
        if self.always_open:
            return moment + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        for opens, closes in self._spans_from(moment):
            if opens + left <= closes:
                return opens + left
            left -= closes - opens
        return moment + timedelta(days=MAX_DAYS)  # never open: a due time nobody meets soon

    def next_opening_after_today(self, moment: datetime) -> datetime:
        """The first open moment of a later local day ("next morning")."""
        tomorrow = moment.astimezone(self.zone).date() + timedelta(days=1)
        start = datetime.combine(tomorrow, time.min, self.zone)
        return self.add(start, 0)
