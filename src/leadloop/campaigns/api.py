from datetime import date
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StringConstraints

from leadloop.campaigns.models import Campaign
from leadloop.campaigns.selectors import campaign_list
from leadloop.campaigns.services import campaign_create
from leadloop.config.api import Input

router = Router(tags=["workspace"])


class CampaignIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(max_length=200)]
    source: Annotated[str, StringConstraints(max_length=100)] = ""
    budget: int = Field(0, ge=0, le=10**15)
    starts_on: date | None = None
    ends_on: date | None = None


class CampaignOut(Schema):
    id: int
    key: str
    name: str
    source: str
    budget: int
    starts_on: date | None
    ends_on: date | None


def campaign_out(campaign: Campaign) -> dict:
    return {
        "id": campaign.id,
        "key": campaign.key,
        "name": campaign.name,
        "source": campaign.source.key if campaign.source else "",
        "budget": campaign.budget,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
    }


@router.get("/campaigns", response=list[CampaignOut])
def list_campaigns(request: HttpRequest):
    actor = request.auth
    return [campaign_out(c) for c in campaign_list(workspace=actor.workspace, fetched_by=actor)]


@router.post("/campaigns", response={201: CampaignOut})
def create_campaign(request: HttpRequest, payload: CampaignIn):
    actor = request.auth
    campaign = campaign_create(workspace=actor.workspace, actor=actor, **payload.model_dump())
    return Status(201, campaign_out(campaign))
