from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from leadloop.config.api import Input, PageQuery, RowId, page_of
from leadloop.contacts.models import PossibleDuplicate
from leadloop.contacts.selectors import contact_get, duplicate_list
from leadloop.contacts.services import contact_merge, contact_values, duplicate_dismiss
from leadloop.pipeline.selectors import lead_list

router = Router(tags=["contacts"])


class MergeIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    into: RowId
    fields: dict[Literal["full_name", "phone", "email"], RowId] = Field(default_factory=dict)
    dry_run: bool = False


class DuplicateQuery(PageQuery):
    status: Literal["open", "dismissed"] = "open"


def duplicate_out(pair: PossibleDuplicate) -> dict:
    return {
        "id": pair.pk,
        "reason": pair.reason,
        "score": pair.score,
        "status": pair.status,
        "contact": contact_values(pair.contact),
        "other": contact_values(pair.other),
        "contact_url": f"/api/v1/contacts/{pair.contact_id}",
        "other_url": f"/api/v1/contacts/{pair.other_id}",
    }


@router.get("/contacts/{contact_id}")
def get_contact(request: HttpRequest, contact_id: int):
    actor = request.auth
    contact = contact_get(workspace=actor.workspace, fetched_by=actor, contact_id=contact_id)
    leads = lead_list(workspace=actor.workspace, fetched_by=actor).filter(contact=contact)
    return {
        **contact_values(contact),
        "leads": [
            {"id": lead.pk, "stage": lead.stage.key, "is_open": lead.is_open} for lead in leads
        ],
    }


@router.post("/contacts/{contact_id}/merge")
def merge_contact(request: HttpRequest, contact_id: int, payload: MergeIn):
    """Merge this contact into `into`; `fields` picks per field the contact whose value
    survives; `dry_run` answers the same without writing."""
    actor = request.auth
    return contact_merge(
        workspace=actor.workspace,
        actor=actor,
        contact_id=contact_id,
        into_id=payload.into,
        fields=payload.fields,
        dry_run=payload.dry_run,
    )


@router.get("/duplicates")
def list_duplicates(request: HttpRequest, query: Query[DuplicateQuery]):
    actor = request.auth
    pairs = duplicate_list(workspace=actor.workspace, fetched_by=actor, status=query.status)
    return page_of(pairs, query, duplicate_out)


@router.post("/duplicates/{pair_id}/dismiss")
def dismiss_duplicate(request: HttpRequest, pair_id: int):
    actor = request.auth
    pair = duplicate_dismiss(workspace=actor.workspace, actor=actor, pair_id=pair_id)
    return duplicate_out(pair)
