from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leadloop.contacts.normalize import fold
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.bulk import instance
from leadloop.core.errors import Conflict, ValidationFailed
from leadloop.core.joined import Pending, fetch_joined_later
from leadloop.core.models import Workspace
from leadloop.core.services import audit_record
from leadloop.pipeline.models import (
    CLOSING_CATEGORIES,
    EXIT_CATEGORIES,
    Category,
    Lead,
    LeadEvent,
    Stage,
)
from leadloop.pipeline.presets import PAUSING, PRESETS


def event_new(*, lead: Lead, actor: Actor, kind: str, **fields) -> LeadEvent:
    """An unsaved timeline row (for bulk writes); `event_record` saves one."""
    fields.setdefault("at", clock.now())
    return instance(
        LeadEvent,
        workspace_id=lead.workspace_id,
        lead=lead,
        kind=kind,
        actor=actor.member,
        actor_label=actor.label,
        **fields,
    )


def event_record(*, lead: Lead, actor: Actor, kind: str, **fields) -> LeadEvent:
    event = event_new(lead=lead, actor=actor, kind=kind, **fields)
    event.save()
    return event


@transaction.atomic
def stage_preset_apply(*, workspace: Workspace, actor: Actor, preset: str) -> list[Stage]:
    actor.require(actor.administers)
    if preset not in PRESETS:
        raise ValidationFailed(_("Unknown preset."), fields={"preset": [preset]})
    if Stage.objects.filter(workspace=workspace).exists():
        raise Conflict(_("This workspace already has stages."))
    return Stage.objects.bulk_create(
        Stage(
            workspace=workspace,
            key=key,
            name_vi=vi,
            name_en=en,
            category=category,
            position=position,
            outcomes=outcomes,
            pauses_sla=key in PAUSING,
        )
        for position, (key, vi, en, category, outcomes) in enumerate(PRESETS[preset])
    )


def _check_stage_fields(name_vi: str, name_en: str, category: str) -> None:
    errors = {}
    if not name_vi.strip():
        errors["name_vi"] = [_("This field is required.")]
    if category not in Category.values:
        errors["category"] = [_("Unknown category.")]
    if len(name_vi) > 100 or len(name_en) > 100:
        errors["name_vi"] = [_("At most 100 characters.")]
    if errors:
        raise ValidationFailed(_("The stage is not valid."), fields=errors)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _check_names_free(workspace_id: int, name_vi: str, name_en: str, other_than=None) -> None:
    """Two stages of one name would show as one in every stage list: refused, whatever the
    case or spacing, in either language."""
    others = Stage.objects.filter(workspace_id=workspace_id).exclude(
        pk=getattr(other_than, "pk", None)
    )
    taken, shown_en = {}, name_en.strip() or name_vi  # an empty English name shows the other
    for stage in others.only("name_vi", "name_en"):
        if _same(stage.name_vi, name_vi):
            taken["name_vi"] = [_("A stage with this name exists.")]
        if _same(stage.name_en, shown_en):
            taken["name_en" if name_en.strip() else "name_vi"] = [
                _("A stage with this name exists.")
            ]
    if taken:
        raise Conflict(_("A stage with this name exists."), fields=taken)


@transaction.atomic
def stage_create(
    *, workspace: Workspace, actor: Actor, name_vi: str, name_en: str = "", category: str
) -> Stage:
    actor.require(actor.administers)
    _check_stage_fields(name_vi, name_en, category)
    _check_names_free(workspace.pk, name_vi, name_en)
    key = slugify(fold(name_en or name_vi))[:40] or "stage"
    if Stage.objects.filter(workspace=workspace, key=key).exists():
        raise Conflict(_("A stage with this name exists."), fields={"name_vi": [name_vi]})
    stage = Stage.objects.create(
        workspace=workspace,
        key=key,
        name_vi=name_vi.strip(),
        name_en=name_en.strip() or name_vi.strip(),
        category=category,
        position=_new_position(workspace, category),
    )
    audit_record(actor=actor, action="stage.create", obj=stage)
    return stage


def _new_position(workspace: Workspace, category: str) -> int:
    """A stage a lead still works in (new, working, qualified) comes before the closing ones
    (won, lost, invalid), which move down one; a closing stage comes last."""
    stages = Stage.objects.filter(workspace=workspace)
    list(stages.select_for_update().values_list("pk"))  # two new stages at once: one by one
    last = stages.aggregate(m=Max("position"))["m"]
    if category in CLOSING_CATEGORIES:
        return (last or 0) + 1
    closing = stages.filter(category__in=CLOSING_CATEGORIES).aggregate(m=Min("position"))["m"]
    if closing is None:
        return (last or 0) + 1
    stages.filter(position__gte=closing).update(position=F("position") + 1)
    return closing


@transaction.atomic
def stage_update(
    *,
    stage: Stage,
    actor: Actor,
    name_vi: str,
    name_en: str,
    category: str,
    archived: bool,
    pauses_sla: bool | None = None,
) -> Stage:
    """Rename, recategorise or archive a stage; `pauses_sla` (None: unchanged) stops its leads'
    idle clock."""
    actor.require(actor.administers)
    _check_stage_fields(name_vi, name_en, category)
    if not (_same(name_vi, stage.name_vi) and _same(name_en or name_vi, stage.name_en)):
        _check_names_free(stage.workspace_id, name_vi, name_en, other_than=stage)  # renamed
    if stage.category == Category.NEW and (archived or category != Category.NEW):
        active_new = Stage.objects.filter(
            workspace_id=stage.workspace_id, category=Category.NEW, archived=False
        ).exclude(pk=stage.pk)
        if not active_new.exists():
            raise ValidationFailed(_("Keep at least one active stage of category New."))
    if (category in CLOSING_CATEGORIES) != stage.closes:
        _check_no_leads(stage)
    stage.name_vi, stage.name_en = name_vi.strip(), name_en.strip() or name_vi.strip()
    stage.category, stage.archived = category, archived
    if pauses_sla is not None:
        stage.pauses_sla = pauses_sla
    stage.save()
    audit_record(
        actor=actor,
        action="stage.update",
        obj=stage,
        data={"category": category, "archived": archived, "pauses_sla": stage.pauses_sla},
    )
    return stage


def _check_no_leads(stage: Stage) -> None:
    """A category that closes leads (won, lost, invalid) or opens them changes only on an empty
    stage: its leads would stay open in a closed stage, or closed in an open one."""
    if count := Lead.objects.filter(stage=stage).count():
        message = ngettext(
            "%(n)s lead is in this stage: move it to another stage first.",
            "%(n)s leads are in this stage: move them to another stage first.",
            count,
        ) % {"n": count}
        raise ValidationFailed(message, fields={"category": [message]})


@transaction.atomic
def stage_reorder(*, workspace: Workspace, actor: Actor, keys: list[str]) -> None:
    actor.require(actor.administers)
    stages = {s.key: s for s in Stage.objects.filter(workspace=workspace)}
    if sorted(keys) != sorted(stages):
        raise ValidationFailed(_("Give every stage exactly once."), fields={"keys": keys})
    for position, key in enumerate(keys):
        stages[key].position = position
    Stage.objects.bulk_update(stages.values(), ["position"])
    audit_record(actor=actor, action="stage.reorder", obj=workspace, data={"keys": keys})


def entry_stage(workspace: Workspace) -> Pending:
    """The read of the first active stage of category New (by hand: every capture batch asks);
    `entry_stage_of` takes it."""
    return fetch_joined_later(
        "SELECT {select} FROM {s} WHERE s.workspace_id = %s AND s.category = %s"
        " AND NOT s.archived ORDER BY s.position, s.id LIMIT 1",
        [workspace.pk, Category.NEW.value],
        s=Stage,
    )


def entry_stage_of(found: list[tuple]) -> Stage:
    if not found:
        raise ValidationFailed(_("The workspace has no active stage of category New."))
    return found[0][0]


LOCKED_FIELDS = ["stage", "furthest_stage", "is_open", "closed_at", "owner"]


def _furthest(lead: Lead, stage: Stage) -> Stage | None:
    if stage.category in EXIT_CATEGORIES:
        return lead.furthest_stage
    current = lead.furthest_stage
    return stage if current is None or stage.position >= current.position else current


def lead_can_work(lead: Lead, actor: Actor) -> bool:
    return actor.works_leads and (actor.sees_all_leads or lead.owner_id == actor.member_id)


@transaction.atomic
def lead_change_stage(*, lead: Lead, actor: Actor, stage_key: str, reason: str = "") -> Lead:
    """Move the lead; changes of one lead at the same time are made one after the other, each
    from the stage the one before left (the timeline's from → to chain, the furthest stage)."""
    lead.refresh_from_db(from_queryset=Lead.objects.select_for_update(), fields=LOCKED_FIELDS)
    actor.require(lead_can_work(lead, actor))
    stage = Stage.objects.filter(workspace_id=lead.workspace_id, key=stage_key).first()
    if stage is None:
        raise ValidationFailed(_("Unknown stage."), fields={"stage": [_("Unknown stage.")]})
    if stage.archived:
        raise ValidationFailed(_("This stage is archived."), fields={"stage": [stage_key]})
    if stage.pk == lead.stage_id:
        return lead
    previous, was_open = lead.stage, lead.is_open
    lead.stage, lead.furthest_stage = stage, _furthest(lead, stage)
    lead.is_open = not stage.closes
    lead.closed_at = clock.now() if stage.closes else None
    try:
        with transaction.atomic():
            lead.save(update_fields=["stage", "furthest_stage", "is_open", "closed_at"])
    except IntegrityError:
        raise Conflict(
            _("This contact already has another open lead; close it before reopening this one."),
            code="open_lead_exists",
        ) from None
    event_record(
        lead=lead,
        actor=actor,
        kind=LeadEvent.Kind.STAGE,
        from_stage=previous,
        to_stage=stage,
        reason=reason[:500],
    )
    from leadloop.routing.sla import sla_after_stage  # routing builds on the pipeline

    sla_after_stage(lead=lead, was_open=was_open, was_paused=previous.pauses_sla)
    return lead
