from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StrictInt, StringConstraints

from leadloop.config.api import Input
from leadloop.pipeline.api import lead_out
from leadloop.pipeline.selectors import lead_get
from leadloop.routing.models import Policy, Rule, Strategy
from leadloop.routing.selectors import policy_get, routing_preview, rule_get, rule_list
from leadloop.routing.services import (
    lead_assign,
    policy_update,
    rule_create,
    rule_delete,
    rule_reorder,
    rule_update,
)

router = Router(tags=["leads"])
Hours = dict[str, list[list[str]]]  # {"0": [["08:00", "12:00"]], ...}; 0 = Monday


class AssignIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    owner_id: StrictInt  # `true` is no member id
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


@router.post("/leads/{lead_id}/assign")
def assign(request: HttpRequest, lead_id: int, payload: AssignIn):
    actor = request.auth
    lead = lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=lead_id)
    return lead_out(
        lead_assign(lead=lead, actor=actor, owner_id=payload.owner_id, reason=payload.reason)
    )


# ---- assignment rules (sizes and ids are checked by the services)


class ConditionsIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    source: list[str] = []
    campaign: list[str] = []
    channel: list[int] = []
    language: list[str] = []
    fields: dict[str, list[str]] = {}


class RuleIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    name: str
    active: bool = True
    conditions: ConditionsIn = ConditionsIn()
    team_id: int | None = None
    member_ids: list[int] = []
    strategy: Strategy = Strategy.ROUND_ROBIN


class RulePatch(Schema, Input):
    """Only the fields sent change (`null` only for `team_id`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = None
    active: bool = None
    conditions: ConditionsIn = None
    team_id: int | None = None
    member_ids: list[int] = None
    strategy: Strategy = None


class ReorderIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(max_length=1000)


class Named(Schema):
    id: int
    name: str


class RuleOut(Schema):
    id: int
    name: str
    position: int
    active: bool
    fallback: bool
    conditions: dict
    team: Named | None
    members: list[Named]
    strategy: str


def rule_out(rule: Rule) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "position": rule.position,
        "active": rule.active,
        "fallback": rule.fallback,
        "conditions": rule.conditions,
        "team": {"id": rule.team.pk, "name": rule.team.name} if rule.team else None,
        "members": [{"id": m.pk, "name": m.full_name} for m in rule.members.all()],
        "strategy": rule.strategy,
    }


def _rules(actor) -> list[dict]:
    return [rule_out(r) for r in rule_list(workspace=actor.workspace, fetched_by=actor)]


def _rule(actor, rule_id: int) -> Rule:
    return rule_get(workspace=actor.workspace, fetched_by=actor, rule_id=rule_id)


@router.get("/routing/rules", response=list[RuleOut], tags=["routing"])
def list_rules(request: HttpRequest):
    return _rules(request.auth)


@router.post("/routing/rules", response={201: RuleOut}, tags=["routing"])
def create_rule(request: HttpRequest, payload: RuleIn):
    actor = request.auth
    rule = rule_create(workspace=actor.workspace, actor=actor, **payload.model_dump())
    return Status(201, rule_out(_rule(actor, rule.pk)))


@router.post("/routing/rules/reorder", response=list[RuleOut], tags=["routing"])
def reorder_rules(request: HttpRequest, payload: ReorderIn):
    actor = request.auth
    rule_reorder(workspace=actor.workspace, actor=actor, ids=payload.ids)
    return _rules(actor)


@router.get("/routing/rules/{rule_id}", response=RuleOut, tags=["routing"])
def get_rule(request: HttpRequest, rule_id: int):
    return rule_out(_rule(request.auth, rule_id))


@router.patch("/routing/rules/{rule_id}", response=RuleOut, tags=["routing"])
def update_rule(request: HttpRequest, rule_id: int, payload: RulePatch):
    actor = request.auth
    rule_update(rule=_rule(actor, rule_id), actor=actor, **payload.model_dump(exclude_unset=True))
    return rule_out(_rule(actor, rule_id))


@router.delete("/routing/rules/{rule_id}", response={204: None}, tags=["routing"])
def delete_rule(request: HttpRequest, rule_id: int):
    actor = request.auth
    rule_delete(rule=_rule(actor, rule_id), actor=actor)
    return Status(204, None)


# ---- "who would get this lead?"


class PreviewIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, StringConstraints(max_length=200)] = ""
    campaign: Annotated[str, StringConstraints(max_length=200)] = ""
    channel_id: int | None = None
    language: Annotated[str, StringConstraints(max_length=20)] = ""
    fields: dict[
        Annotated[str, StringConstraints(max_length=100)],
        Annotated[str, StringConstraints(max_length=500)],
    ] = Field({}, max_length=50)


class RepOut(Schema):
    id: int
    name: str
    can_take: bool
    why_not: str | None  # inactive, away, off_shift, at_capacity, daily_limit
    status: str


class PreviewOut(Schema):
    rule: Named
    fallback: bool
    pick: Named | None
    reason: str
    reps: list[RepOut]


@router.post("/routing/preview", response=PreviewOut, tags=["routing"])
def preview(request: HttpRequest, payload: PreviewIn):
    actor = request.auth
    answer = routing_preview(workspace=actor.workspace, actor=actor, **payload.model_dump())
    pick = answer.pick
    return {
        "rule": {"id": answer.rule.pk, "name": answer.rule.name},
        "fallback": answer.rule.fallback,
        "pick": {"id": pick.pk, "name": pick.full_name} if pick else None,
        "reason": answer.reason,
        "reps": [
            {
                "id": c.member.pk,
                "name": c.member.full_name,
                "can_take": not c.why_not,
                "why_not": c.why_not or None,
                "status": c.status,
            }
            for c in answer.candidates
        ],
    }


# ---- the SLA policy


class PolicyOut(Schema):
    business_hours: Hours
    holidays: list[str]
    return_to_owner: bool
    assign_minutes: int
    first_contact_minutes: int
    attempt_cadence: list[str]
    not_reached_stage: str | None  # a stage key
    idle_hours: int
    journey_days: int
    journey_end_stage: str | None


class PolicyIn(PolicyOut, Input):
    """The whole policy; stages by key, `null` for none. Strict: `true` is no number of minutes."""

    model_config = ConfigDict(extra="forbid", strict=True)


def policy_out(policy: Policy) -> dict:
    out = {field: getattr(policy, field) for field in PolicyOut.model_fields}
    for field in ("not_reached_stage", "journey_end_stage"):
        out[field] = out[field].key if out[field] else None
    return out


@router.get("/sla/policy", response=PolicyOut, tags=["routing"])
def get_policy(request: HttpRequest):
    actor = request.auth
    return policy_out(policy_get(workspace=actor.workspace, fetched_by=actor))


@router.put("/sla/policy", response=PolicyOut, tags=["routing"])
def put_policy(request: HttpRequest, payload: PolicyIn):
    actor = request.auth
    return policy_out(policy_update(workspace=actor.workspace, actor=actor, **payload.model_dump()))
