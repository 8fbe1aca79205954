from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict, StringConstraints

from leadloop.pipeline.api import lead_out
from leadloop.pipeline.selectors import lead_get
from leadloop.routing.services import lead_assign

router = Router(tags=["leads"])


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")
    owner_id: int
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


@router.post("/leads/{lead_id}/assign")
def assign(request: HttpRequest, lead_id: int, payload: AssignIn):
    actor = request.auth
    lead = lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=lead_id)
    return lead_out(
        lead_assign(lead=lead, actor=actor, owner_id=payload.owner_id, reason=payload.reason)
    )
