from datetime import date
from typing import Literal
from urllib.parse import urlencode

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from leadloop.config.api import Input, PageQuery, RowId, page_of
from leadloop.core.errors import NotFound
from leadloop.core.models import Member
from leadloop.pipeline.api import obligation_out
from leadloop.pipeline.selectors import LeadFilter, lead_get
from leadloop.reports import selectors
from leadloop.reports.sla import breach_list, sla_report

router = Router(tags=["reports"])


class ReportQuery(Schema, Input):
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    source: str = ""
    campaign: str = ""
    test: bool = False  # true: the providers' test leads instead of the real ones

    def resolve(self, workspace) -> dict:
        default_from, default_to = selectors.default_range(workspace)
        return {
            "date_from": self.date_from or default_from,
            "date_to": self.date_to or default_to,
            "base": LeadFilter(source=self.source, campaign=self.campaign, test=self.test),
        }


class StagesQuery(ReportQuery):
    by: Literal["day", "week", "month"] = "day"


def _row_out(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k != "filter"}
    out["leads_url"] = "/api/v1/leads?" + urlencode(row["filter"].as_query())
    return out


@router.get("/reports/stages")
def stages_report(request: HttpRequest, query: Query[StagesQuery]):
    actor = request.auth
    args = query.resolve(actor.workspace)
    rows = selectors.stages_by_period(
        workspace=actor.workspace, fetched_by=actor, by=query.by, **args
    )
    return {
        "from": args["date_from"],
        "to": args["date_to"],
        "by": query.by,
        "rows": [_row_out(r) for r in rows],
    }


@router.get("/reports/funnel")
def funnel_report(request: HttpRequest, query: Query[ReportQuery]):
    actor = request.auth
    args = query.resolve(actor.workspace)
    rows = selectors.funnel(workspace=actor.workspace, fetched_by=actor, **args)
    return {"from": args["date_from"], "to": args["date_to"], "rows": [_row_out(r) for r in rows]}


class QualityQuery(Schema, Input):
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    source: str = ""
    campaign: str = ""
    by: Literal["source", "campaign"] = "source"


def _quality_out(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k != "filters"}
    for part, flt in row["filters"].items():
        out[f"{part}_url"] = "/api/v1/leads?" + urlencode(flt.as_query())
    return out


@router.get("/reports/quality")
def quality_report(request: HttpRequest, query: Query[QualityQuery]):
    """Leads, invalid, duplicate and test counts and rates per source or campaign (test leads
    included); the last row is the total. Every `*_url` lists exactly the counted leads."""
    actor = request.auth
    default_from, default_to = selectors.default_range(actor.workspace)
    date_from, date_to = query.date_from or default_from, query.date_to or default_to
    rows = selectors.quality(
        workspace=actor.workspace,
        fetched_by=actor,
        date_from=date_from,
        date_to=date_to,
        by=query.by,
        base=LeadFilter(source=query.source, campaign=query.campaign),
    )
    return {
        "from": date_from,
        "to": date_to,
        "by": query.by,
        "rows": [_quality_out(r) for r in rows],
    }


class SlaQuery(Schema, Input):
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    source: str = ""
    campaign: str = ""
    by: Literal["rep", "team", "day"] = "rep"


def _leads_url(flt: LeadFilter) -> str:
    return "/api/v1/leads?" + urlencode(flt.as_query())


def _sla_block(block: dict) -> dict:
    out = {k: v for k, v in block.items() if k not in ("filters", "kinds")}
    filters = block["filters"]
    out["leads_url"] = _leads_url(filters["due"])
    out["met_url"] = _leads_url(filters["met"])
    out["breached_url"] = _leads_url(filters["breached"])
    return out


def _sla_out(row: dict) -> dict:
    return {**_sla_block(row), "kinds": {k: _sla_block(b) for k, b in row["kinds"].items()}}


@router.get("/reports/sla")
def sla_report_api(request: HttpRequest, query: Query[SlaQuery]):
    """SLA compliance of the obligations due in the range, per rep, team or due day; the last
    row (key "") is the total. Counts are obligations; `lead_counts` are the leads that
    `leads_url` (due), `met_url` and `breached_url` list."""
    actor = request.auth
    default_from, default_to = selectors.default_range(actor.workspace)
    date_from, date_to = query.date_from or default_from, query.date_to or default_to
    rows = sla_report(
        workspace=actor.workspace,
        fetched_by=actor,
        date_from=date_from,
        date_to=date_to,
        by=query.by,
        base=LeadFilter(source=query.source, campaign=query.campaign),
    )
    return {"from": date_from, "to": date_to, "by": query.by, "rows": [_sla_out(r) for r in rows]}


class BreachQuery(PageQuery):
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    member: RowId | None = None
    lead: RowId | None = None


@router.get("/reports/sla/breaches")
def breach_log(request: HttpRequest, query: Query[BreachQuery]):
    """The breach log: breached obligations, latest due first (`from`/`to`: due days)."""
    actor = request.auth
    workspace = actor.workspace
    lead = (
        lead_get(workspace=workspace, fetched_by=actor, lead_id=query.lead) if query.lead else None
    )
    member = None
    if query.member:
        member = Member.objects.filter(workspace=workspace, pk=query.member).first()
        if member is None:
            raise NotFound(_("Member not found."))
    breaches = breach_list(
        workspace=workspace,
        fetched_by=actor,
        lead=lead,
        member=member,
        date_from=query.date_from,
        date_to=query.date_to,
    )
    return page_of(breaches, query, lambda timer: obligation_out(timer, workspace))
