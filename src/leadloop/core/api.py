from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StringConstraints

from leadloop.core.models import Member, Role
from leadloop.core.selectors import member_list
from leadloop.core.services import member_create

router = Router(tags=["workspace"])


class MemberIn(Schema):
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
    active: bool
    email_notifications: bool


def member_out(member: Member) -> dict:
    return {
        "id": member.id,
        "email": member.user.email,
        "full_name": member.full_name,
        "role": member.role,
        "team": member.team.name if member.team else "",
        "capacity": member.capacity,
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
