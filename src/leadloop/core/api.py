from typing import Annotated

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StringConstraints

from leadloop.config.api import Input
from leadloop.core.errors import Forbidden
from leadloop.core.models import Member, Role
from leadloop.core.selectors import member_get, member_list
from leadloop.core.services import member_create
from leadloop.routing.services import member_routing_update

router = Router(tags=["workspace"])


class MemberIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, StringConstraints(max_length=254)]
    full_name: Annotated[str, StringConstraints(max_length=200)]
    role: Role
    team: Annotated[str, StringConstraints(max_length=100)] = ""
    capacity: int = Field(0, ge=0, le=100_000)
    active: bool = True
    email_notifications: bool = False


class MemberOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    team: str
    capacity: int
    daily_limit: int
    weight: int
    away: bool
    working_hours: dict[str, list[list[str]]]
    active: bool
    email_notifications: bool


class MemberRoutingPatch(Schema, Input):
    """Only the fields sent change; `working_hours` {} means the business hours."""

    model_config = ConfigDict(extra="forbid")
    capacity: int = None
    daily_limit: int = None
    weight: int = None
    away: bool = None
    working_hours: dict[str, list[list[str]]] = None


class AwayIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    away: bool


def member_out(member: Member) -> dict:
    return {
        "id": member.id,
        "email": member.user.email,
        "full_name": member.full_name,
        "role": member.role,
        "team": member.team.name if member.team else "",
        "capacity": member.capacity,
        "daily_limit": member.daily_limit,
        "weight": member.weight,
        "away": member.away,
        "working_hours": member.working_hours,
        "active": member.active,
        "email_notifications": member.email_notifications,
    }


@router.get("/members", response=list[MemberOut])
def list_members(request: HttpRequest):
    actor = request.auth
    return [member_out(m) for m in member_list(workspace=actor.workspace, fetched_by=actor)]


@router.post("/members", response={201: MemberOut})
def create_member(request: HttpRequest, payload: MemberIn):
    actor = request.auth
    member = member_create(workspace=actor.workspace, actor=actor, **payload.model_dump())
    return Status(201, member_out(member))


@router.patch("/members/{member_id}", response=MemberOut)
def update_member_routing(request: HttpRequest, member_id: int, payload: MemberRoutingPatch):
    actor = request.auth
    member = member_get(workspace=actor.workspace, fetched_by=actor, member_id=member_id)
    return member_out(member_routing_update(member=member, actor=actor, **payload.model_dump()))


@router.post("/me/away", response=MemberOut)
def set_away(request: HttpRequest, payload: AwayIn):
    """The token's member switches themselves away (no new leads) or back."""
    actor = request.auth
    if actor.member is None:
        raise Forbidden(_("This token does not act as a member."))
    member = member_get(workspace=actor.workspace, fetched_by=actor, member_id=actor.member_id)
    return member_out(member_routing_update(member=member, actor=actor, away=payload.away))
