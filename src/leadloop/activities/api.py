from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime, ConfigDict, StrictInt, StringConstraints

from leadloop.activities.models import Kind
from leadloop.activities.services import activity_log
from leadloop.config.api import Input
from leadloop.pipeline.selectors import lead_get

router = Router(tags=["leads"])


class ActivityIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    outcome: Annotated[str, StringConstraints(max_length=40)] = ""
    duration_s: StrictInt = Field(0, ge=0, le=86_400)  # true is no number of seconds
    body: Annotated[str, StringConstraints(max_length=10_000)] = ""
    callback_at: AwareDatetime | None = None  # when the person asked to be called back


@router.post("/leads/{lead_id}/activities", response={201: dict})
def log_activity(request: HttpRequest, lead_id: int, payload: ActivityIn):
    actor = request.auth
    lead = lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=lead_id)
    logged = activity_log(lead=lead, actor=actor, **payload.model_dump())
    activity, stage = logged.activity, logged.suggested_stage
    return Status(
        201,
        {
            "id": activity.id,
            "kind": activity.kind,
            "outcome": activity.outcome,
            "duration_s": activity.duration_s,
            "attempt": activity.attempt,
            "body": activity.body,
            "suggested_stage": stage.key if stage else None,
        },
    )
