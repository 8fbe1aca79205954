from datetime import date

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadloop.campaigns.services import key_of
from leadloop.contacts.normalize import fold
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import NotFound, ValidationFailed
from leadloop.core.ids import MAX_ID
from leadloop.core.models import Member, Role, Team, Workspace
from leadloop.core.services import audit_record
from leadloop.intake.models import Channel
from leadloop.pipeline.models import Lead, Stage
from leadloop.pipeline.selectors import FIRST_DAY, LAST_DAY
from leadloop.pipeline.services import LOCKED_FIELDS
from leadloop.routing.engine import WORKING_ROLES, policy_of
from leadloop.routing.hours import hours_errors
from leadloop.routing.models import Policy, Rule, Strategy
from leadloop.routing.sla import cadence_errors, lead_reassign, queue_wake


@transaction.atomic
def lead_assign(*, lead: Lead, actor: Actor, owner_id: int, reason: str = "") -> Lead:
    """Give the lead to `owner_id` by hand, read under lock: its owner as stored decides (an
    instance read earlier may show one it no longer has)."""
    actor.require(actor.assigns_leads, _("Only managers and admins can assign leads."))
    lead.refresh_from_db(
        from_queryset=Lead.objects.select_for_update(), fields=[*LOCKED_FIELDS, "assigned_at"]
    )
    owner = Member.objects.filter(workspace_id=lead.workspace_id, id=owner_id).first()
    if owner is None or owner.role not in (Role.SALES, Role.MANAGER, Role.ADMIN):
        raise ValidationFailed(
            _("Choose a sales member of this workspace."), fields={"owner_id": [str(owner_id)]}
        )
    if not owner.active:
        raise ValidationFailed(_("This member is inactive."), fields={"owner_id": [str(owner_id)]})
    if owner.pk == lead.owner_id:
        return lead
    lead_reassign(lead, owner, actor, reason[:500] or "manual")
    return lead


@transaction.atomic
def lead_claim(*, lead: Lead, actor: Actor) -> bool:
    """A sales rep takes an open lead that waits for a rep, as their own entry by hand joined it
    (they are talking to the person). Whether they took it: not when, read under lock, it has
    an owner or is closed."""
    actor.require(actor.role == Role.SALES and actor.member is not None)
    lead.refresh_from_db(
        from_queryset=Lead.objects.select_for_update(), fields=[*LOCKED_FIELDS, "assigned_at"]
    )
    if lead.owner_id is not None or not lead.is_open:
        return False
    lead_reassign(lead, actor.member, actor, "manual", notes=[])  # no note to themselves
    return True


# ---- assignment rules, the SLA policy and the reps' routing settings

MANAGES = gettext_lazy("Only managers and admins can change assignment rules and the SLA policy.")
MAX_VALUES = 50  # values one condition lists
MAX_FIELDS = 20  # lead fields one rule looks at
MAX_NAMED = 200  # reps one rule names
RULE_FIELDS = {"name", "active", "conditions", "team_id", "member_ids", "strategy"}
FALLBACK_FIELDS = {"team_id", "member_ids", "strategy"}
INVALID = object()  # what a check returns for a value it refuses


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_id(value) -> bool:
    return _whole(value, 1, MAX_ID)


def _texts(values, size: int):
    """Distinct stripped texts of a list of at most MAX_VALUES strings of at most `size`."""
    if not isinstance(values, list | tuple) or len(values) > MAX_VALUES:
        return INVALID
    texts = []
    for value in values:
        if not isinstance(value, str) or "\x00" in value or len(value.strip()) > size:
            return INVALID
        if value.strip() and value.strip() not in texts:
            texts.append(value.strip())
    return texts


def _keys(values, size: int):
    """Source or campaign names as the keys leads carry ("Tết 2027" → "tet-2027")."""
    texts = _texts(values, 200)
    keys = INVALID if texts is INVALID else [key_of(text, size) for text in texts]
    return INVALID if keys is INVALID or "" in keys else list(dict.fromkeys(keys))


def _languages(values):
    texts = _texts(values, 20)
    return texts if texts is INVALID else list(dict.fromkeys(fold(t) for t in texts))


def _channels(workspace: Workspace, values):
    listed = isinstance(values, list | tuple) and len(values) <= MAX_VALUES
    if not listed or not all(map(_is_id, values)):
        return INVALID
    ids = sorted(set(values))
    found = Channel.objects.filter(workspace=workspace, id__in=ids).count()
    return ids if found == len(ids) else INVALID


def _field_conditions(values):
    if not isinstance(values, dict) or len(values) > MAX_FIELDS:
        return INVALID
    clean = {}
    for name, wanted in values.items():
        texts = _texts(wanted, 200)
        named = isinstance(name, str) and name.strip() and len(name) <= 100 and "\x00" not in name
        if not named or texts is INVALID:
            return INVALID
        if texts:
            clean[name.strip()] = texts
    return clean


def _rule_conditions(workspace: Workspace, conditions) -> dict:
    """`conditions` checked and normalised; an empty list or dict drops its condition."""
    if not isinstance(conditions, dict):
        raise ValidationFailed(
            _("The rule is not valid."), fields={"conditions": [_("An object of conditions.")]}
        )
    checks = {
        "source": (lambda v: _keys(v, 64), _("A list of at most 50 source names.")),
        "campaign": (lambda v: _keys(v, 100), _("A list of at most 50 campaign names.")),
        "channel": (lambda v: _channels(workspace, v), _("Ids of this workspace's channels.")),
        "language": (_languages, _("A list of language codes such as vi, en.")),
        "fields": (
            _field_conditions,
            _("At most 20 field names, each with a list of at most 50 values."),
        ),
    }
    clean, errors = {}, {}
    for key, wanted in conditions.items():
        if key not in checks:
            errors[f"conditions.{key}"] = [
                _("Unknown condition: use source, campaign, channel, language or fields.")
            ]
            continue
        check, message = checks[key]
        value = check(wanted)
        if value is INVALID:
            errors[f"conditions.{key}"] = [message]
        elif value:
            clean[key] = value
    if errors:
        raise ValidationFailed(_("The rule is not valid."), fields=errors)
    return clean


def _rule_values(workspace: Workspace, changes: dict, rule: Rule | None = None) -> dict:
    """The checked values of a rule's `changes`; a team and named reps exclude each other."""
    clean, errors = {}, {}
    if "name" in changes:
        clean["name"] = " ".join(str(changes["name"]).split())
        if not clean["name"] or len(clean["name"]) > 100 or "\x00" in clean["name"]:
            errors["name"] = [_("A name of at most 100 characters.")]
    if "active" in changes:
        clean["active"] = bool(changes["active"])
    if "strategy" in changes:
        clean["strategy"] = changes["strategy"]
        if clean["strategy"] not in Strategy.values:
            errors["strategy"] = [_("Unknown strategy.")]
    if "team_id" in changes:
        team_id = changes["team_id"]
        teams = Team.objects.filter(workspace=workspace)
        clean["team"] = teams.filter(id=team_id).first() if _is_id(team_id) else None
        if team_id is not None and clean["team"] is None:
            errors["team_id"] = [_("Unknown team.")]
    if "member_ids" in changes:
        ids = changes["member_ids"] or []
        ok = isinstance(ids, list | tuple) and len(ids) <= MAX_NAMED and all(map(_is_id, ids))
        ids = list(dict.fromkeys(ids)) if ok else []
        clean["members"] = list(
            Member.objects.filter(workspace=workspace, id__in=ids, active=True)
            .filter(role__in=WORKING_ROLES)
            .order_by("id")
        )
        if not ok or len(clean["members"]) != len(ids):
            errors["member_ids"] = [_("Choose active sales reps, managers or admins.")]
    has_team = bool(clean["team"]) if "team" in clean else bool(rule and rule.team_id)
    named = clean["members"] if "members" in clean else (rule.members.all() if rule else [])
    if has_team and named and not {"team_id", "member_ids"} & set(errors):
        errors["member_ids"] = [_("Give a team or named reps, not both.")]
    if "conditions" in changes:
        try:
            clean["conditions"] = _rule_conditions(workspace, changes["conditions"])
        except ValidationFailed as exc:
            errors |= exc.fields
    if errors:
        raise ValidationFailed(_("The rule is not valid."), fields=errors)
    return clean


def _rule_save(rule: Rule, clean: dict) -> None:
    members = clean.pop("members", None)
    named = set(rule.members.values_list("id", flat=True)) if rule.pk else set()
    before = (rule.team_id, rule.strategy, named)
    for field, value in clean.items():
        setattr(rule, field, value)
    if (
        rule.team_id,
        rule.strategy,
        named if members is None else {m.pk for m in members},
    ) != before:
        rule.state = {}  # another pool or strategy starts its turns afresh
    rule.save()
    if members is not None:
        rule.members.set(members)


@transaction.atomic
def rule_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    conditions: dict | None = None,
    team_id: int | None = None,
    member_ids: list[int] | None = None,
    strategy: str = Strategy.ROUND_ROBIN,
    active: bool = True,
) -> Rule:
    """A new rule, placed last before the fallback."""
    actor.require(actor.assigns_leads, str(MANAGES))
    values = {
        "name": name,
        "active": active,
        "conditions": conditions or {},
        "team_id": team_id,
        "member_ids": member_ids or [],
        "strategy": strategy,
    }
    clean = _rule_values(workspace, values)
    last = Rule.objects.filter(workspace=workspace, fallback=False).aggregate(n=Max("position"))
    rule = Rule(workspace=workspace, position=(last["n"] or 0) + 1, created_at=clock.now())
    _rule_save(rule, clean)
    audit_record(actor=actor, action="rule.create", obj=rule, data={"name": rule.name})
    return rule


@transaction.atomic
def rule_update(*, rule: Rule, actor: Actor, **changes) -> Rule:
    """Change some of a rule's name, active, conditions, team_id, member_ids and strategy.

    The fallback takes every lead no other rule matches: only its reps and strategy change.
    """
    actor.require(actor.assigns_leads, str(MANAGES))
    if unknown := set(changes) - RULE_FIELDS:
        raise TypeError(f"unknown rule fields: {sorted(unknown)}")
    if rule.fallback and (fixed := set(changes) - FALLBACK_FIELDS):
        message = _("The fallback rule takes every other lead: only its reps and strategy change.")
        raise ValidationFailed(message, code="fallback_rule", fields={k: [message] for k in fixed})
    _rule_save(rule, _rule_values(rule.workspace, changes, rule))
    audit_record(actor=actor, action="rule.update", obj=rule, data={"changed": sorted(changes)})
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule, actor: Actor) -> None:
    actor.require(actor.assigns_leads, str(MANAGES))
    if rule.fallback:
        raise ValidationFailed(
            _("The fallback rule cannot be deleted: it takes the leads no other rule matches."),
            code="fallback_rule",
        )
    audit_record(actor=actor, action="rule.delete", obj=rule, data={"name": rule.name})
    rule.delete()


@transaction.atomic
def rule_reorder(*, workspace: Workspace, actor: Actor, ids: list[int]) -> None:
    """Put the rules in the order of `ids`: every rule but the fallback, once each."""
    actor.require(actor.assigns_leads, str(MANAGES))
    rules = {r.pk: r for r in Rule.objects.filter(workspace=workspace, fallback=False)}
    if len(ids) != len(rules) or set(ids) != set(rules):
        message = _("Give every rule but the fallback exactly once.")
        raise ValidationFailed(message, fields={"ids": [message]})
    for position, rule_id in enumerate(ids, start=1):
        rules[rule_id].position = position
    Rule.objects.bulk_update(rules.values(), ["position"])
    audit_record(actor=actor, action="rule.reorder", obj=workspace, data={"ids": ids})


def week_hours(hours) -> dict:
    """Weekly hours checked and normalised: {"0": [["08:00", "12:00"]], ...}; {}: always."""
    errors = hours_errors(hours)
    if not errors and any(len(spans) > 10 for spans in hours.values()):
        errors = [_("at most 10 spans a day")]
    if errors:
        raise ValidationFailed(
            _("The hours are not valid: %(errors)s") % {"errors": "; ".join(errors[:7])}
        )
    return {
        day: [[str(start).strip(), str(end).strip()] for start, end in spans]
        for day, spans in sorted(hours.items())
    }


def _holidays(workspace: Workspace, values):
    if not isinstance(values, list | tuple) or len(values) > 366:
        return INVALID
    try:
        days = {date.fromisoformat(str(v).strip()) for v in values}
    except ValueError:
        return INVALID
    if any(not FIRST_DAY <= day <= LAST_DAY for day in days):
        return INVALID
    return sorted(day.isoformat() for day in days)


def _cadence(workspace: Workspace, values):
    return INVALID if cadence_errors(values) else [str(s).strip().lower() for s in values]


def _stage(workspace: Workspace, key):
    """The workspace's active stage `key`; None for "" or None."""
    if key in (None, ""):
        return None
    stage = Stage.objects.filter(workspace=workspace, key=str(key), archived=False).first()
    return stage or INVALID


def _number(low: int, high: int):
    return lambda workspace, value: value if _whole(value, low, high) else INVALID


POLICY_CHECKS = {  # field: (check returning the clean value or INVALID, message)
    "business_hours": None,  # week_hours has its own messages
    "holidays": (
        _holidays,
        gettext_lazy("At most 366 dates like 2027-02-16, in the years 1900 to 2999."),
    ),
    "return_to_owner": (
        lambda workspace, value: value if isinstance(value, bool) else INVALID,
        gettext_lazy("true or false."),
    ),
    "assign_minutes": (_number(1, 100_000), gettext_lazy("Minutes from 1 to 100000.")),
    "first_contact_minutes": (_number(1, 100_000), gettext_lazy("Minutes from 1 to 100000.")),
    "attempt_cadence": (
        _cadence,
        gettext_lazy("At most 20 delays like 30m, 2h, 1d or next_morning."),
    ),
    "not_reached_stage": (_stage, gettext_lazy("An active stage of this workspace.")),
    "idle_hours": (_number(0, 10_000), gettext_lazy("Hours from 0 to 10000.")),
    "journey_days": (_number(0, 3650), gettext_lazy("Days from 0 to 3650.")),
    "journey_end_stage": (_stage, gettext_lazy("An active stage of this workspace.")),
}


STAGE_FIELDS = ("not_reached_stage", "journey_end_stage")


def _key_of(stage: Stage | None) -> str:
    return stage.key if stage else ""


@transaction.atomic
def policy_update(*, workspace: Workspace, actor: Actor, **changes) -> Policy:
    """Change some of the SLA policy's fields; stages are given by key ("" or None: none).

    Due times set from now on follow the new policy; timers already set keep theirs.
    """
    actor.require(actor.assigns_leads, str(MANAGES))
    if unknown := set(changes) - set(POLICY_CHECKS):
        raise TypeError(f"unknown policy fields: {sorted(unknown)}")
    policy = policy_of(workspace)
    clean, errors = {}, {}
    for field, value in changes.items():
        if field == "business_hours":
            try:
                clean[field] = week_hours(value)
            except ValidationFailed as exc:
                errors[field] = [exc.message]
            else:
                if clean[field] and not any(clean[field].values()):  # leads would wait forever
                    errors[field] = [_("Open at least one span a week, or {} for always.")]
            continue
        if field in STAGE_FIELDS and _key_of(getattr(policy, field)) == (value or ""):
            continue  # unchanged: kept even when archived since
        check, message = POLICY_CHECKS[field]
        clean[field] = check(workspace, value)
        if clean[field] is INVALID:
            errors[field] = [str(message)]
    if errors:
        raise ValidationFailed(_("The SLA policy is not valid."), fields=errors)
    calendar = ("business_hours", "holidays")
    wake = any(f in clean and clean[f] != getattr(policy, f) for f in calendar)
    for field, value in clean.items():
        setattr(policy, field, value)
    policy.save()
    if wake:  # the business may be open now: queued leads try again
        queue_wake(workspace_id=workspace.pk)
    audit_record(actor=actor, action="policy.update", obj=policy, data={"changed": sorted(clean)})
    return policy


ROUTING_LIMITS = {"capacity": (0, 100_000), "daily_limit": (0, 100_000), "weight": (1, 100)}


@transaction.atomic
def member_routing_update(
    *,
    member: Member,
    actor: Actor,
    capacity: int | None = None,
    daily_limit: int | None = None,
    weight: int | None = None,
    away: bool | None = None,
    working_hours: dict | None = None,
) -> Member:
    """A rep's capacity, daily limit, weight, away switch and working hours (None: unchanged;
    hours {}: the business hours). Managers and admins change anyone's; a rep their own away.

    When the rep may take more leads than before, the queued leads try again at once.
    """
    given = {
        "capacity": capacity,
        "daily_limit": daily_limit,
        "weight": weight,
        "away": away,
        "working_hours": working_hours,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if member.workspace_id != actor.workspace.pk:
        raise NotFound(_("Member not found."))
    own_switch = actor.works_leads and actor.member_id == member.pk and set(given) <= {"away"}
    actor.require(
        actor.assigns_leads or own_switch,
        _("Only managers and admins change a rep's routing; a rep only their own away switch."),
    )
    errors = {
        name: [_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]
        for name, (low, high) in ROUTING_LIMITS.items()
        if name in given and not _whole(given[name], low, high)
    }
    if "away" in given and not isinstance(away, bool):
        errors["away"] = [_("true or false.")]
    if "working_hours" in given:
        try:
            given["working_hours"] = week_hours(working_hours)
        except ValidationFailed as exc:
            errors["working_hours"] = [exc.message]
    if errors:
        raise ValidationFailed(_("The routing settings are not valid."), fields=errors)
    changed = sorted(name for name, value in given.items() if getattr(member, name) != value)
    if not changed:
        return member
    for name in changed:
        setattr(member, name, given[name])
    member.save(update_fields=changed)
    back = "away" in changed and not member.away
    if back or {"capacity", "daily_limit", "working_hours"} & set(changed):
        queue_wake(workspace_id=member.workspace_id)
    audit_record(actor=actor, action="member.routing", obj=member, data={"changed": changed})
    return member
