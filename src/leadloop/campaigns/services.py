import functools
from datetime import date

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.contacts.normalize import fold
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import Conflict, ValidationFailed
from leadloop.core.models import Workspace
from leadloop.core.services import audit_record
from leadloop.pipeline.selectors import days_check


@functools.lru_cache(maxsize=4096)  # a pure function called several times per captured lead
def key_of(name: str, limit: int) -> str:
    return slugify(fold(name))[:limit]


def _get_or_create(model, *, workspace: Workspace, key: str, defaults: dict):
    found = model.objects.filter(workspace=workspace, key=key).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return model.objects.create(workspace=workspace, key=key, **defaults)
    except IntegrityError:  # created concurrently
        return model.objects.get(workspace=workspace, key=key)


def source_for(*, workspace: Workspace, name: str) -> Source | None:
    """The source named `name`, created on first use; None for an empty name."""
    key = key_of(name or "", 64)
    if not key:
        return None
    return _get_or_create(
        Source, workspace=workspace, key=key, defaults={"name": name.strip()[:100]}
    )


def campaign_for(*, workspace: Workspace, name: str, source: Source | None) -> Campaign | None:
    key = key_of(name or "", 100)
    if not key:
        return None
    return _get_or_create(
        Campaign,
        workspace=workspace,
        key=key,
        defaults={"name": name.strip()[:200], "source": source, "created_at": clock.now()},
    )


@transaction.atomic
def campaign_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    source: str = "",
    budget: int = 0,
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> Campaign:
    actor.require(actor.role in ("admin", "manager", "marketer"))
    key = key_of(name, 100)
    if not key:
        raise ValidationFailed(_("A campaign needs a name."), fields={"name": [_("Required.")]})
    if budget < 0:
        raise ValidationFailed(_("Budget cannot be negative."), fields={"budget": [str(budget)]})
    days_check({"starts_on": starts_on, "ends_on": ends_on})
    if starts_on and ends_on and ends_on < starts_on:
        before = _("The campaign ends before it starts.")
        raise ValidationFailed(before, fields={"ends_on": [before]})
    if Campaign.objects.filter(workspace=workspace, key=key).exists():
        raise Conflict(_("A campaign with this name exists."), fields={"name": [name]})
    campaign = Campaign.objects.create(
        workspace=workspace,
        key=key,
        name=name.strip()[:200],
        source=source_for(workspace=workspace, name=source),
        budget=budget,
        starts_on=starts_on,
        ends_on=ends_on,
        created_at=clock.now(),
    )
    audit_record(actor=actor, action="campaign.create", obj=campaign)
    return campaign
