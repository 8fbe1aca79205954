from datetime import date
from typing import Literal
from urllib.parse import urlencode

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from leadloop.pipeline.selectors import LeadFilter
from leadloop.reports import selectors

router = Router(tags=["reports"])


class ReportQuery(Schema):
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


class QualityQuery(Schema):
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
