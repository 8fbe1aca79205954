"""The SLA report and the breach log, read from the obligations (pipeline.obligations).

The report counts, per rep, team or due day, the obligations due in the range that were met on
time or breached (pending ones are not counted), the compliance (met / due) and the median and
worst lateness of the breached ones, in total and per kind. Every count carries the LeadFilter
whose lead list shows exactly the leads of the counted obligations (a lead with two breached
attempts is one lead), so `lead_counts` is what the drill-down lists.
"""

from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case, CharField, Count, F, IntegerField, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils.translation import gettext as _

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import ValidationFailed
from leadloop.core.models import Member, Workspace
from leadloop.pipeline.models import Lead
from leadloop.pipeline.obligations import KINDS, STATES, breached_q, lateness, with_state
from leadloop.pipeline.selectors import LeadFilter, days_check, lead_list, sla_q
from leadloop.reports.selectors import _check_range, _real
from leadloop.routing.models import Timer

GROUPS = ("rep", "team", "day")
BLOCK = ("due", "breached", "leads_due", "leads_met", "leads_breached", "median", "worst")


def _scoped(flt: LeadFilter, fetched_by: Actor) -> LeadFilter:
    """A sales rep's SLA numbers are their own obligations (on the leads they can see)."""
    if fetched_by.sees_all_leads:
        return flt
    return replace(flt, sla_member=str(fetched_by.member_id) if fetched_by.member else "none")


def _obligations(workspace: Workspace, fetched_by: Actor, flt: LeadFilter, now) -> QuerySet:
    """The obligations `flt` selects on the leads the lead list would show: the same definition
    as the drill-down's `lead_list(filters=flt)`."""
    leads = lead_list(workspace=workspace, fetched_by=fetched_by, filters=flt.without_sla())
    return Timer.objects.filter(
        sla_q(workspace, flt, now), lead_id__in=leads.order_by().values("id")
    )


def _group(by: str, workspace: Workspace) -> tuple:
    if by == "rep":
        return F("member_id"), F("member__full_name")
    if by == "team":
        return F("member__team_id"), F("member__team__name")
    due_day = TruncDate("due_at", tzinfo=ZoneInfo(workspace.time_zone))
    return due_day, Value("", output_field=CharField())


def _aggregates(scope: str) -> list[str]:
    """The BLOCK columns, in total and per kind, over the window columns of `scope`."""
    columns = []
    for kind in ("", *KINDS):
        assert kind.replace("_", "").isalpha() or not kind  # a constant, safe to inline
        of_kind = f"o.kind = '{kind}'" if kind else "1 = 1"
        late = f"{of_kind} AND o.sla_breached = 1"
        rank, size = (f"o.rn_{scope}{'k' if kind else ''}", f"o.n_{scope}{'k' if kind else ''}")
        middle = f"{rank} IN (({size} + 1) / 2, ({size} + 2) / 2)"  # one or the two middle rows
        columns += [
            f"COUNT(CASE WHEN {of_kind} THEN 1 END)",
            f"COUNT(CASE WHEN {late} THEN 1 END)",
            f"COUNT(DISTINCT CASE WHEN {of_kind} THEN o.lead_id END)",
            f"COUNT(DISTINCT CASE WHEN {of_kind} AND o.sla_breached = 0 THEN o.lead_id END)",
            f"COUNT(DISTINCT CASE WHEN {late} THEN o.lead_id END)",
            f"AVG(CASE WHEN {late} AND {middle} THEN o.sla_late END)",
            f"MAX(CASE WHEN {late} THEN o.sla_late END)",
        ]
    return columns


def _grouped(timers: QuerySet, key, name, now) -> list[tuple]:
    """One query: a row per group, then the total row (key None).

    Django cannot aggregate over window functions, so the ORM builds the obligations with their
    group, lateness and rank (for the median, portable to SQLite and PostgreSQL) and a plain SQL
    query around it groups them.
    """
    breached = Case(
        When(breached_q(now), then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    timers = timers.annotate(
        sla_key=key,
        sla_name=name,
        sla_breached=breached,
        sla_late=lateness(now),
    )
    windows = {}
    for scope, partition in (("g", [F("sla_key")]), ("t", [])):
        for level, by_kind in (("", []), ("k", [F("kind")])):
            parts = [*partition, *by_kind, F("sla_breached")]
            windows[f"rn_{scope}{level}"] = Window(
                RowNumber(), partition_by=parts, order_by=F("sla_late").asc()
            )
            windows[f"n_{scope}{level}"] = Window(Count("id"), partition_by=parts)
    inner = (
        timers.annotate(**windows)
        .order_by()
        .values("sla_key", "sla_name", "kind", "lead_id", "sla_breached", "sla_late", *windows)
    )
    sql, params = inner.query.sql_with_params()
    per_group, total = ", ".join(_aggregates("g")), ", ".join(_aggregates("t"))
    query = (
        f"WITH o AS ({sql}) "
        f"SELECT o.sla_key, MAX(o.sla_name), {per_group} FROM o GROUP BY o.sla_key "
        f"UNION ALL SELECT NULL, NULL, {total} FROM o"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _seconds(value) -> int | None:
    return None if value is None else round(float(value))


def _block(values, flt: LeadFilter, kind: str = "") -> dict:
    numbers = dict(zip(BLOCK, values, strict=True))
    due, breached = numbers["due"], numbers["breached"]
    return {
        "due": due,
        "met": due - breached,
        "breached": breached,
        "compliance": round((due - breached) / due, 4) if due else None,
        "median_late_s": _seconds(numbers["median"]),
        "max_late_s": _seconds(numbers["worst"]),
        "lead_counts": {state: numbers[f"leads_{state}"] for state in STATES},
        "filters": {state: replace(flt, sla=state, sla_kind=kind) for state in STATES},
    }


def _row(values, flt: LeadFilter, key: str, name: str) -> dict:
    size = len(BLOCK)
    return {
        "key": key,
        "name": name,
        **_block(values[:size], flt),
        "kinds": {
            kind: _block(values[size * (i + 1) : size * (i + 2)], flt, kind)
            for i, kind in enumerate(KINDS)
        },
    }


def _group_row(by: str, raw: tuple, flt: LeadFilter) -> dict:
    key, name, values = raw[0], raw[1] or "", raw[2:]
    if by == "day":
        day = date.fromisoformat(str(key)[:10])
        return _row(values, replace(flt, sla_from=day, sla_to=day), day.isoformat(), "")
    key = "none" if key is None else str(key)
    return _row(values, replace(flt, **{f"sla_{'member' if by == 'rep' else by}": key}), key, name)


def sla_report(
    *,
    workspace: Workspace,
    fetched_by: Actor,
    date_from: date,
    date_to: date,
    by: str = "rep",
    base: LeadFilter | None = None,
) -> list[dict]:
    """SLA compliance of the obligations due in the range (workspace days), per rep (key
    "none": the assignments nobody owes), team or due day; the last row (key "") is the total.
    A sales rep sees only their own obligations."""
    if by not in GROUPS:
        raise ValidationFailed(_("`by` is rep, team or day."), fields={"by": [by]})
    _check_range(date_from, date_to)
    flt = replace(base or LeadFilter(), sla="due", sla_from=date_from, sla_to=date_to)
    flt = _scoped(_real(flt), fetched_by)
    now = clock.now()
    key, name = _group(by, workspace)
    *groups, total = _grouped(_obligations(workspace, fetched_by, flt, now), key, name, now)
    rows = [_group_row(by, raw, flt) for raw in groups]
    if by == "day":
        rows.sort(key=lambda r: r["key"])
    else:
        rows.sort(key=lambda r: (r["key"] == "none", r["name"].casefold(), r["key"]))
    return [*rows, _row(total[2:], flt, "", "")]


def breach_list(
    *,
    workspace: Workspace,
    fetched_by: Actor,
    lead: Lead | None = None,
    member: Member | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    base: LeadFilter | None = None,
) -> QuerySet[Timer]:
    """The breach log: breached obligations due in the range, latest first, each with `state`
    and `late` (seconds), its lead's contact and the accountable member loaded. Scoped like the
    report: a sales rep sees only their own breaches."""
    days_check({"from": date_from, "to": date_to})
    if date_from and date_to:
        _check_range(date_from, date_to)
    if member is not None and not fetched_by.sees_all_leads and member.pk != fetched_by.member_id:
        return Timer.objects.none()
    flt = replace(
        base or LeadFilter(),
        sla="breached",
        sla_member=str(member.pk) if member else "",
        sla_from=date_from,
        sla_to=date_to,
    )
    now = clock.now()
    timers = _obligations(workspace, fetched_by, _scoped(_real(flt), fetched_by), now)
    if lead is not None:
        timers = timers.filter(lead_id=lead.pk)
    related = ("lead__contact", "lead__workspace", "member")
    return with_state(timers, now).select_related(*related).order_by("-due_at", "-id")
