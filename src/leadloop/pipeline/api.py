from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import BaseModel, ConfigDict, StringConstraints

from leadloop.activities.selectors import activity_list
from leadloop.config.api import Input, PageQuery, page_of
from leadloop.contacts.services import contact_values
from leadloop.core import clock
from leadloop.core.errors import ApplicationError, ValidationFailed
from leadloop.intake.services import (
    UTM_FIELDS,
    Captured,
    Submission,
    idempotent,
    lead_capture,
    leads_capture,
)
from leadloop.pipeline.exports import export_response
from leadloop.pipeline.models import Lead
from leadloop.pipeline.obligations import late_seconds, lead_obligations
from leadloop.pipeline.selectors import LeadFilter, lead_get, lead_list, stage_history, stage_list
from leadloop.pipeline.services import lead_change_stage

router = Router(tags=["leads"])
Short = Annotated[str, StringConstraints(max_length=200)]
FieldValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None


class Strict(BaseModel):
    """A request body of plain values: pydantic's own model, without ninja's Schema, whose
    validator that reads Django objects costs ten times the validation of a lead. NaN and
    Infinity, which Python's JSON reader takes, are refused: JSON has no such numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LeadIn(Strict, Input):
    full_name: Short = ""
    phone: Annotated[str, StringConstraints(max_length=64)] = ""
    email: Annotated[str, StringConstraints(max_length=254)] = ""
    source: Annotated[str, StringConstraints(max_length=100)] = ""
    campaign: Short = ""
    external_id: Annotated[str, StringConstraints(max_length=128)] = ""
    utm_source: Short = ""
    utm_medium: Short = ""
    utm_campaign: Short = ""
    utm_content: Short = ""
    utm_term: Short = ""
    note: Annotated[str, StringConstraints(max_length=10_000)] = ""
    fields: dict[Annotated[str, StringConstraints(max_length=100)], FieldValue] = Field(
        default_factory=dict, max_length=100
    )

    def submission(self) -> Submission:
        return Submission(
            full_name=self.full_name,
            phone=self.phone,
            email=self.email,
            source=self.source,
            campaign=self.campaign,
            external_id=self.external_id,
            note=self.note,
            fields=self.fields,
            utm={k: getattr(self, k) for k in UTM_FIELDS},
        )


class BulkIn(Strict):
    leads: list[Any] = Field(max_length=1000)  # an item that is no LeadIn fails alone (a 422)


class StageIn(Strict, Input):
    stage: Annotated[str, StringConstraints(max_length=40)]
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class LeadQuery(PageQuery):
    stage: str = ""
    owner: str = ""
    source: str = ""
    campaign: str = ""
    created_from: date | None = None
    created_to: date | None = None
    q: Annotated[str, StringConstraints(max_length=200)] = ""
    reached: str = ""
    open: bool | None = None
    contacted: bool | None = None
    test: bool | None = None
    invalid: bool | None = None
    duplicate: bool | None = None
    imported: Annotated[str, StringConstraints(max_length=20)] = ""
    contact: Annotated[str, StringConstraints(max_length=20)] = ""
    sla: Literal["", "due", "met", "breached"] = ""
    sla_kind: Literal["", "assign", "first_contact", "attempt"] = ""
    sla_member: Annotated[str, StringConstraints(max_length=20)] = ""
    sla_team: Annotated[str, StringConstraints(max_length=20)] = ""
    sla_from: date | None = None
    sla_to: date | None = None

    def to_filter(self) -> LeadFilter:
        return LeadFilter(**{f.name: getattr(self, f.name) for f in dataclass_fields(LeadFilter)})


class ExportQuery(LeadQuery):
    format: Literal["csv", "xlsx"] = "csv"


class OwnerOut(Schema):
    id: int
    name: str


class QualityOut(Schema):
    phone_e164: str
    phone_valid: bool
    email_valid: bool
    issues: list[str]


class CapturedOut(Schema):
    id: int
    contact_id: int
    created: bool
    duplicate_of: int | None
    returning: bool
    stage: str
    owner: OwnerOut | None
    quality: QualityOut
    created_at: str  # as `local` writes it, like every other time in the API


def local(lead_or_ws, moment: datetime | None) -> str | None:
    workspace = getattr(lead_or_ws, "workspace", lead_or_ws)
    return moment.astimezone(ZoneInfo(workspace.time_zone)).isoformat() if moment else None


def owner_out(member) -> dict | None:
    return {"id": member.id, "name": member.full_name} if member else None


def captured_out(captured: Captured) -> dict:
    lead = captured.lead
    return {
        "id": lead.pk,
        "contact_id": lead.contact_id,
        "created": captured.created,
        "duplicate_of": captured.duplicate_of,
        "returning": captured.returning,
        "stage": lead.stage.key,
        "owner": owner_out(lead.owner),
        "quality": captured.quality,
        "created_at": local(lead, lead.created_at),
    }


def lead_out(lead: Lead) -> dict:
    return {
        "id": lead.pk,
        "contact": contact_values(lead.contact),
        "stage": lead.stage.key,
        "stage_name": lead.stage.name,
        "category": lead.stage.category,
        "is_open": lead.is_open,
        "owner": owner_out(lead.owner),
        "source": lead.source.key if lead.source else "",
        "campaign": lead.campaign.key if lead.campaign else "",
        "returning": lead.returning,
        "call_attempts": lead.call_attempts,
        "created_at": local(lead, lead.created_at),
        "assigned_at": local(lead, lead.assigned_at),
        "first_contact_at": local(lead, lead.first_contact_at),
        "closed_at": local(lead, lead.closed_at),
    }


def obligation_out(timer, workspace) -> dict:
    """One SLA obligation of a lead (pipeline.obligations.with_state)."""
    return {
        "id": timer.id,
        "lead_id": timer.lead_id,
        "kind": timer.kind,
        "attempt": timer.attempt,
        "member": owner_out(timer.member),
        "due_at": local(workspace, timer.due_at),
        "done_at": local(workspace, timer.done_at),
        "state": timer.state,
        "late_s": late_seconds(timer),
    }


def lead_detail_out(lead: Lead) -> dict:
    touches = lead.touches.select_related("source", "campaign").order_by("received_at", "id")
    return {
        **lead_out(lead),
        "external_id": lead.external_id,
        "fields": lead.fields,
        "note": lead.note,
        "utm": {k: getattr(lead, k) for k in UTM_FIELDS},
        "touches": [
            {
                "id": t.id,
                "kind": t.kind,
                "source": t.source.key if t.source else "",
                "campaign": t.campaign.key if t.campaign else "",
                "external_id": t.external_id,
                "utm": t.utm,
                "fields": t.fields,
                "raw": t.raw,
                "received_at": local(lead, t.received_at),
            }
            for t in touches
        ],
        "activities": [
            {
                "id": a.id,
                "kind": a.kind,
                "outcome": a.outcome,
                "duration_s": a.duration_s,
                "attempt": a.attempt,
                "body": a.body,
                "member": owner_out(a.member),
                "at": local(lead, a.at),
            }
            for a in activity_list(lead=lead)
        ],
        "stage_history": [
            {
                "from": e.from_stage.key if e.from_stage else None,
                "to": e.to_stage.key if e.to_stage else None,
                "member": owner_out(e.actor),
                "by": e.actor_label,
                "reason": e.reason,
                "at": local(lead, e.at),
            }
            for e in stage_history(lead=lead)
        ],
        "sla": [
            obligation_out(t, lead.workspace) for t in lead_obligations(lead=lead, now=clock.now())
        ],
    }


@router.post("/leads", response={200: CapturedOut, 201: CapturedOut})
def create_lead(request: HttpRequest, payload: LeadIn):
    actor = request.auth

    def produce() -> tuple[int, dict]:
        captured = lead_capture(
            workspace=actor.workspace,
            actor=actor,
            submission=payload.submission(),
            raw=payload.model_dump(),
        )
        return (201 if captured.created else 200), captured_out(captured)

    return Status(
        *idempotent(
            workspace=actor.workspace,
            key=request.headers.get("Idempotency-Key", ""),
            payload=payload.model_dump(),
            produce=produce,
        )
    )


def _bulk_error(index: int, error: ApplicationError) -> dict:
    return {"index": index, "status": error.status, "error": error.as_dict()["error"]}


def _bulk_parse(index: int, body) -> LeadIn | dict:
    try:
        return LeadIn.model_validate(body)
    except ValueError as exc:  # pydantic.ValidationError
        fields = {".".join(map(str, e["loc"])) or "body": [e["msg"]] for e in exc.errors()}
        return _bulk_error(index, ValidationFailed(_("The lead is not valid."), fields=fields))


def _bulk_result(index: int, outcome) -> dict:
    if isinstance(outcome, ApplicationError):
        return _bulk_error(index, outcome)
    status = 201 if outcome.created else 200
    return {"index": index, "status": status, "lead": captured_out(outcome)}


@router.post("/leads/bulk", response={200: dict})
def create_leads_bulk(request: HttpRequest, payload: BulkIn):
    actor = request.auth
    actor.require(actor.captures_leads)

    def produce() -> tuple[int, dict]:
        results = [_bulk_parse(i, body) for i, body in enumerate(payload.leads)]
        valid = [(i, lead_in) for i, lead_in in enumerate(results) if isinstance(lead_in, LeadIn)]
        outcomes = leads_capture(
            workspace=actor.workspace,
            actor=actor,
            submissions=[(lead_in.submission(), lead_in.model_dump()) for _i, lead_in in valid],
        )
        for (index, _lead_in), outcome in zip(valid, outcomes, strict=True):
            results[index] = _bulk_result(index, outcome)
        return 200, {"results": results}

    return Status(
        *idempotent(
            workspace=actor.workspace,
            key=request.headers.get("Idempotency-Key", ""),
            payload=payload.model_dump(),
            produce=produce,
        )
    )


@router.get("/leads")
def list_leads(request: HttpRequest, query: Query[LeadQuery]):
    actor = request.auth
    leads = lead_list(workspace=actor.workspace, fetched_by=actor, filters=query.to_filter())
    return page_of(leads, query, lead_out)


@router.get("/leads/export")
def export_leads(request: HttpRequest, query: Query[ExportQuery]):
    """The filtered lead list (same filters and role scoping as GET /leads) as CSV or XLSX."""
    actor = request.auth
    return export_response(
        workspace=actor.workspace, actor=actor, filters=query.to_filter(), fmt=query.format
    )


@router.get("/leads/{lead_id}")
def get_lead(request: HttpRequest, lead_id: int):
    actor = request.auth
    return lead_detail_out(lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=lead_id))


@router.post("/leads/{lead_id}/stage")
def change_stage(request: HttpRequest, lead_id: int, payload: StageIn):
    actor = request.auth
    lead = lead_get(workspace=actor.workspace, fetched_by=actor, lead_id=lead_id)
    return lead_out(
        lead_change_stage(lead=lead, actor=actor, stage_key=payload.stage, reason=payload.reason)
    )


@router.get("/stages", tags=["workspace"])
def list_stages(request: HttpRequest, archived: bool = False):
    actor = request.auth
    return [
        {
            "key": s.key,
            "name": s.name,
            "name_vi": s.name_vi,
            "name_en": s.name_en,
            "category": s.category,
            "position": s.position,
            "archived": s.archived,
            "outcomes": s.outcomes,
        }
        for s in stage_list(workspace=actor.workspace, fetched_by=actor, archived=archived)
    ]
