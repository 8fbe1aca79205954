from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from leadloop.campaigns.models import Campaign, Source
from leadloop.campaigns.services import key_of
from leadloop.core.access import Actor
from leadloop.core.errors import NotFound, ValidationFailed
from leadloop.core.models import Member, Team, Workspace
from leadloop.intake.models import Channel
from leadloop.pipeline.models import Lead
from leadloop.routing.engine import WORKING_ROLES, Router, Traits, fallback_rule, policy_of
from leadloop.routing.models import Policy, Rule, Timer
from leadloop.routing.services import MANAGES


def rule_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Rule]:
    """The rules in the order they are tried, the fallback last."""
    fetched_by.require(fetched_by.assigns_leads, str(MANAGES))
    fallback_rule(workspace)
    return (
        Rule.objects.filter(workspace=workspace)
        .select_related("team")
        .prefetch_related("members")
        .order_by("fallback", "position", "id")
    )


def rule_get(*, workspace: Workspace, fetched_by: Actor, rule_id: int) -> Rule:
    rule = rule_list(workspace=workspace, fetched_by=fetched_by).filter(id=rule_id).first()
    if rule is None:
        raise NotFound(_("Rule not found."))
    return rule


def rule_choices(*, workspace: Workspace, fetched_by: Actor) -> dict[str, list[tuple[int, str]]]:
    """What a rule may name: teams, active reps (sales, managers, admins) and channels."""
    fetched_by.require(fetched_by.assigns_leads, str(MANAGES))
    reps = Member.objects.filter(workspace=workspace, active=True, role__in=WORKING_ROLES)
    channels = Channel.objects.filter(workspace=workspace).order_by("kind", "name", "id")
    return {
        "teams": list(Team.objects.filter(workspace=workspace).values_list("id", "name")),
        "members": list(reps.values_list("id", "full_name")),
        "channels": list(channels.values_list("id", "name")),
    }


def policy_get(*, workspace: Workspace, fetched_by: Actor) -> Policy:
    fetched_by.require(fetched_by.assigns_leads, str(MANAGES))
    return policy_of(workspace)


@dataclass(frozen=True)
class Candidate:
    member: Member
    why_not: str  # "" when they can take a lead now, else inactive, away, off_shift, ...
    status: str  # the same in words

    @classmethod
    def of(cls, router: Router, member: Member) -> "Candidate":
        why = router.why_not(member)
        statuses = {
            "": _("Can take a lead now"),
            "inactive": _("Inactive"),
            "away": _("Away"),
            "off_shift": _("Off shift (working hours or a holiday)"),
            "at_capacity": _("At capacity (%(n)s/%(max)s open leads)")
            % {"n": router.open[member.pk], "max": member.capacity},
            "daily_limit": _("Daily limit reached (%(n)s/%(max)s today)")
            % {"n": router.today[member.pk], "max": member.daily_limit},
        }
        return cls(member, why, statuses[why])


@dataclass(frozen=True)
class Preview:
    rule: Rule
    candidates: list[Candidate]
    pick: Member | None  # None: the lead would wait in the queue
    reason: str  # the strategy, or "queue"
    opens_at: datetime | None = None  # when the workspace opens, if it is closed now


def routing_preview(
    *,
    workspace: Workspace,
    actor: Actor,
    source: str = "",
    campaign: str = "",
    channel_id: int | None = None,
    fields: dict | None = None,
    language: str = "",
) -> Preview:
    """Who would get a lead like this one now, and why the others would not.

    Reads only: the lead is never saved and no strategy's turn moves, so the next real lead
    goes where it would have gone anyway.
    """
    actor.require(actor.assigns_leads, str(MANAGES))
    fields = dict(fields or {})
    channels = Channel.objects.filter(workspace=workspace, id=channel_id)
    if channel_id is not None and not channels.exists():
        message = _("Unknown channel.")
        raise ValidationFailed(message, fields={"channel_id": [message]})
    if language:
        fields["language"] = language
    source_key, campaign_key = key_of(source, 64), key_of(campaign, 100)
    lead = Lead(
        workspace=workspace,
        source=Source(workspace=workspace, key=source_key) if source_key else None,
        campaign=Campaign(workspace=workspace, key=campaign_key) if campaign_key else None,
        fields=fields,
    )
    router = Router(workspace, lock=False)
    rule = router.rule_for(Traits.of(lead, channel_id))
    pool = {m.pk: m for m in router.pool(rule)}
    gone = [i for i in router.named.get(rule.pk, []) if i not in pool]  # named, now inactive
    pool |= {m.pk: m for m in Member.objects.filter(pk__in=gone)}
    candidates = [Candidate.of(router, member) for _pk, member in sorted(pool.items())]
    pick = router.pick(lead, channel_id=channel_id)  # never saved: the turn stays
    closed = not router.business.is_open(router.now)
    opens_at = router.business.add(router.now, 0) if closed else None
    return Preview(rule, candidates, pick.owner, pick.reason, opens_at)


def queue_list(*, workspace: Workspace, fetched_by: Actor) -> QuerySet[Lead]:
    """The member's own open leads, most urgent first.

    Urgency is the earliest due time among the lead's obligations still open for the member
    (first contact, call attempts), annotated as `due_at`, `due_kind` and `due_attempt`; the
    leads owing nothing follow, oldest first.
    """
    fetched_by.require(fetched_by.works_leads)
    if fetched_by.member is None:
        return Lead.objects.none()
    owed = Timer.objects.filter(
        lead=OuterRef("pk"),
        member_id=fetched_by.member_id,
        kind__in=Timer.OBLIGATIONS,
        done_at__isnull=True,
    ).order_by("due_at", "id")
    return (
        Lead.objects.filter(workspace=workspace, owner_id=fetched_by.member_id, is_open=True)
        .select_related("contact", "source", "stage")
        .annotate(
            due_at=Subquery(owed.values("due_at")[:1]),
            due_kind=Subquery(owed.values("kind")[:1]),
            due_attempt=Subquery(owed.values("attempt")[:1]),
        )
        .order_by(F("due_at").asc(nulls_last=True), "created_at", "id")
    )
