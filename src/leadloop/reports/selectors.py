"""Read models behind the charts. Each row carries the LeadFilter that lists exactly its leads."""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils.translation import gettext as _

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Workspace
from leadloop.pipeline.models import EXIT_CATEGORIES
from leadloop.pipeline.selectors import (
    NONE,
    LeadFilter,
    days_check,
    duplicate_q,
    invalid_q,
    lead_list,
    stage_list,
)

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive


def default_range(workspace: Workspace, days: int = 30) -> tuple[date, date]:
    today = clock.now().astimezone(ZoneInfo(workspace.time_zone)).date()
    return today - timedelta(days=days - 1), today


def _check_range(date_from: date, date_to: date) -> None:
    days_check({"from": date_from, "to": date_to})
    if date_to < date_from:
        before = _("The end date is before the start date.")
        raise ValidationFailed(before, fields={"to": [before]})
    if (date_to - date_from).days > MAX_DAYS:
        too_long = _("The range is longer than three years.")
        raise ValidationFailed(too_long, fields={"from": [too_long]})


def _period_of(start: date, by: str, date_from: date, date_to: date) -> Period:
    if by == "day":
        end = start
    elif by == "week":
        end = start + timedelta(days=6)
    else:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return Period(max(start, date_from), min(end, date_to))


def _real(flt: LeadFilter) -> LeadFilter:
    """Reports leave providers' test leads out unless the filter asks for them."""
    return flt if flt.test is not None else replace(flt, test=False)


def stages_by_period(
    *,
    workspace: Workspace,
    fetched_by: Actor,
    date_from: date,
    date_to: date,
    by: str = "day",
    base: LeadFilter | None = None,
) -> list[dict]:
    """Lead counts by current stage and creation period (workspace time zone)."""
    if by not in TRUNC:
        raise ValidationFailed(_("`by` is day, week or month."), fields={"by": [by]})
    _check_range(date_from, date_to)
    flt = _real(replace(base or LeadFilter(), created_from=date_from, created_to=date_to))
    leads = lead_list(workspace=workspace, fetched_by=fetched_by, filters=flt).order_by()
    tz = ZoneInfo(workspace.time_zone)
    grouped = (
        leads.annotate(period=TRUNC[by]("created_at", tzinfo=tz))
        .values("period", "stage__key")
        .annotate(count=Count("id"))
        .order_by("period", "stage__key")
    )
    stages = {
        s.key: s for s in stage_list(workspace=workspace, fetched_by=fetched_by, archived=True)
    }
    rows = []
    for row in grouped:
        start = (
            row["period"].astimezone(tz).date()
            if hasattr(row["period"], "astimezone")
            else row["period"]
        )
        period = _period_of(start, by, date_from, date_to)
        stage = stages[row["stage__key"]]
        rows.append(
            {
                "period": period.start,
                "period_end": period.end,
                "stage": stage.key,
                "stage_name": stage.name,
                "category": stage.category,
                "position": stage.position,
                "count": row["count"],
                "filter": replace(
                    flt, stage=stage.key, created_from=period.start, created_to=period.end
                ),
            }
        )
    return rows


def funnel(
    *,
    workspace: Workspace,
    fetched_by: Actor,
    date_from: date,
    date_to: date,
    base: LeadFilter | None = None,
) -> list[dict]:
    """Leads that reached each progress stage (or a later one), with drop-off between steps."""
    _check_range(date_from, date_to)
    flt = _real(replace(base or LeadFilter(), created_from=date_from, created_to=date_to))
    leads = lead_list(workspace=workspace, fetched_by=fetched_by, filters=flt).order_by()
    reached = dict(leads.values_list("furthest_stage__position").annotate(n=Count("id")).order_by())
    steps = [
        s
        for s in stage_list(workspace=workspace, fetched_by=fetched_by)
        if s.category not in EXIT_CATEGORIES
    ]
    rows, previous = [], None
    for stage in steps:
        count = sum(n for pos, n in reached.items() if pos is not None and pos >= stage.position)
        drop = round(1 - count / previous, 4) if previous else 0.0
        rows.append(
            {
                "stage": stage.key,
                "stage_name": stage.name,
                "category": stage.category,
                "count": count,
                "drop_off": drop,
                "filter": replace(flt, reached=stage.key),
            }
        )
        previous = count
    return rows


def dashboard_counts(*, workspace: Workspace, fetched_by: Actor) -> list[dict]:
    """The dashboard's headline numbers, each with the LeadFilter that lists exactly its leads."""
    _first, today = default_range(workspace, days=1)
    filters = {
        "today": LeadFilter(created_from=today, created_to=today),
        "week": LeadFilter(created_from=today - timedelta(days=today.weekday()), created_to=today),
        "open": LeadFilter(open=True),
        "not_contacted": LeadFilter(open=True, contacted=False),
    }
    return [
        {
            "key": key,
            "filter": _real(flt),
            "count": lead_list(
                workspace=workspace, fetched_by=fetched_by, filters=_real(flt)
            ).count(),
        }
        for key, flt in filters.items()
    ]


QUALITY_DIMENSIONS = {
    "source": ("source__key", "source__name"),
    "campaign": ("campaign__key", "campaign__name"),
}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def quality(
    *,
    workspace: Workspace,
    fetched_by: Actor,
    date_from: date,
    date_to: date,
    by: str = "source",
    base: LeadFilter | None = None,
) -> list[dict]:
    """Data quality per source (or campaign) of the leads created in the range, test leads
    included: leads, invalid (invalid_q), duplicate (duplicate_q) and test counts and shares of
    the row's leads. The last row is the total. Each count has the LeadFilter of its leads."""
    if by not in QUALITY_DIMENSIONS:
        raise ValidationFailed(_("`by` is source or campaign."), fields={"by": [by]})
    _check_range(date_from, date_to)
    flt = replace(base or LeadFilter(), created_from=date_from, created_to=date_to)
    leads = lead_list(workspace=workspace, fetched_by=fetched_by, filters=flt).order_by()
    key, name = QUALITY_DIMENSIONS[by]
    counts = {
        "leads": Count("id"),
        "invalid": Count("id", filter=invalid_q()),
        "duplicate": Count("id", filter=duplicate_q()),
        "test": Count("id", filter=Q(is_test=True)),
    }
    grouped = leads.values(key, name).annotate(**counts).order_by(key)
    rows = [
        _quality_row(row, replace(flt, **{by: row[key] or NONE}), row[key] or NONE, row[name] or "")
        for row in grouped
    ]
    total = {k: sum(r[k] for r in rows) for k in counts}
    return [*rows, _quality_row(total, flt, "", "")]


def _quality_row(counts: dict, flt: LeadFilter, key: str, name: str) -> dict:
    leads = counts["leads"]
    return {
        "key": key,
        "name": name,
        "leads": leads,
        **{part: counts[part] for part in ("invalid", "duplicate", "test")},
        **{f"{part}_rate": _rate(counts[part], leads) for part in ("invalid", "duplicate", "test")},
        "filters": {
            "leads": flt,
            "invalid": replace(flt, invalid=True),
            "duplicate": replace(flt, duplicate=True),
            "test": replace(flt, test=True),
        },
    }
