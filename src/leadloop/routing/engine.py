"""Who gets a new lead: the first matching rule, its reps who can take a lead now, its strategy.

A rep can take a lead when active, not away, on shift (their hours, else the business hours;
never on a holiday), under their open-lead capacity and their daily limit. `Router` reads the
rules, reps and counts once per batch and keeps the counts in step as it hands leads out, so a
batch never exceeds a capacity; the rules stay locked until the transaction ends, so concurrent
batches take turns in order.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time
from functools import cached_property

from django.db import connection

from leadloop.contacts.normalize import fold
from leadloop.core import clock
from leadloop.core.joined import (
    Pending,
    any_of,
    fetch_joined_later,
    for_update,
    listed,
    sent_together,
)
from leadloop.core.models import Member, Role, Workspace
from leadloop.pipeline.models import Lead
from leadloop.routing.hours import Calendar
from leadloop.routing.models import Policy, Rule, Strategy

WORKING_ROLES = (Role.SALES, Role.MANAGER, Role.ADMIN)


def policy_of(workspace: Workspace) -> Policy:
    return _policy_found(workspace, _policy_read(workspace))


def _policy_read(workspace: Workspace) -> Pending:
    return fetch_joined_later(
        "SELECT {select} FROM {p} WHERE p.workspace_id = %s", [workspace.pk], p=Policy
    )


def _policy_found(workspace: Workspace, read: Pending) -> Policy:
    if found := read.rows():
        return _in(workspace, found[0][0])
    return Policy.objects.get_or_create(workspace=workspace)[0]


def calendar_of(workspace: Workspace, policy: Policy, hours: dict | None = None) -> Calendar:
    return Calendar.of(hours or policy.business_hours, policy.holidays, workspace.time_zone)


def fallback_rule(workspace: Workspace) -> Rule:
    rule = Rule.objects.filter(workspace=workspace, fallback=True).first()
    if rule is None:
        rule, _created = Rule.objects.get_or_create(
            workspace=workspace,
            fallback=True,
            defaults={"name": "Fallback", "position": 0, "created_at": clock.now()},
        )
    return rule


@dataclass(frozen=True)
class Traits:
    """What rules match on, read from an (unsaved) lead and the channel it came through; the
    lead's fields are folded only when a rule asks for them (most leads meet the fallback)."""

    source: str
    campaign: str
    channel: int | None
    given: dict  # the lead's fields as they came

    @classmethod
    def of(cls, lead: Lead, channel_id: int | None = None) -> "Traits":
        return cls(
            source=getattr(lead.source, "key", "") or "",
            campaign=getattr(lead.campaign, "key", "") or "",
            channel=channel_id,
            given=lead.fields or {},
        )

    @cached_property
    def fields(self) -> dict[str, str]:
        return {fold(str(k)): fold(str(v)) for k, v in self.given.items()}

    @property
    def language(self) -> str:
        return self.fields.get("language") or self.fields.get("lang") or ""


def rule_matches(conditions: dict, traits: Traits) -> bool:
    for key, wanted in conditions.items():
        if key == "fields":
            for name, values in wanted.items():
                if traits.fields.get(fold(name)) not in {fold(str(v)) for v in values}:
                    return False
        elif key == "channel":
            if traits.channel not in {int(v) for v in wanted}:
                return False
        elif fold(str(getattr(traits, key))) not in {fold(str(v)) for v in wanted}:
            return False
    return True


@dataclass(frozen=True)
class Pick:
    owner: Member | None
    rule: Rule
    reason: str  # the rule's strategy, "returning", or "queue" when nobody can take the lead


class Router:
    """Hands a batch of new leads to reps; one instance per transaction."""

    def __init__(self, workspace: Workspace, *, lock: bool = True):
        self.workspace, self.now = workspace, clock.now()
        with sent_together():  # one wait for the four reads
            policy, rules = _policy_read(workspace), self._rules(lock)
            named, staff = _named_reps(workspace), _staff(workspace)
        self.policy = _policy_found(workspace, policy)
        self.business = calendar_of(workspace, self.policy)
        self.rules = [_in(workspace, rule) for (rule,) in rules.rows()]
        if not any(rule.fallback for rule in self.rules):
            fallback_rule(workspace)
            self.rules = [_in(workspace, rule) for (rule,) in self._rules(lock).rows()]
        self.named: dict[int, list[int]] = {}  # rule id -> the ids of its named reps, in id order
        for rule_id, member_id in named.rows():
            self.named.setdefault(rule_id, []).append(member_id)
        self.reps = {member.pk: _in(workspace, member) for (member,) in staff.rows()}
        self.open = Counter()
        self.today = Counter()
        self._load_counts()
        self.changed: set[int] = set()
        self.shifts: dict[int, bool] = {}  # member id -> on shift now
        self._on_duty: dict[int, list[Member]] = {}  # rule id -> its reps active, here, on shift

    def _rules(self, lock: bool) -> Pending:
        """The active rules and the fallback, in order; locked, so batches take turns."""
        return fetch_joined_later(
            "SELECT {select} FROM {r} WHERE r.workspace_id = %s AND (r.active OR r.fallback)"
            " ORDER BY r.fallback, r.position, r.id" + (for_update() if lock else ""),
            [self.workspace.pk],
            r=Rule,
        )

    def _load_counts(self) -> None:
        reps = self.reps.values()
        needs_open = any(m.capacity for m in reps) or any(
            r.strategy == Strategy.LEAST_BUSY for r in self.rules
        )
        if needs_open:
            self.open.update(_owner_counts(self.workspace, "is_open", []))
        if any(m.daily_limit for m in reps):
            local = self.now.astimezone(self.business.zone)
            midnight = datetime.combine(local.date(), time.min, self.business.zone)
            since = Lead._meta.get_field("assigned_at").get_db_prep_value(midnight, connection)
            self.today.update(_owner_counts(self.workspace, "assigned_at >= %s", [since]))

    # ---- who can take a lead

    def on_shift(self, member: Member) -> bool:
        if member.pk not in self.shifts:  # `now` stays put for the router's life
            hours = member.working_hours
            calendar = calendar_of(self.workspace, self.policy, hours) if hours else self.business
            self.shifts[member.pk] = calendar.is_open(self.now)
        return self.shifts[member.pk]

    def why_not(self, member: Member) -> str:
        """Why `member` cannot take a lead now, as a code ("" when they can)."""
        if member.pk not in self.reps:
            return "inactive"
        if member.away:
            return "away"
        if full := self._full(member):
            return full
        if not self.on_shift(member):
            return "off_shift"
        return ""

    def _full(self, member: Member) -> str:
        """Why `member` has no room for a lead now ("at_capacity", "daily_limit"), or ""."""
        if member.capacity and self.open[member.pk] >= member.capacity:
            return "at_capacity"
        if member.daily_limit and self.today[member.pk] >= member.daily_limit:
            return "daily_limit"
        return ""

    def can_take(self, member: Member | None) -> bool:
        return member is not None and not self.why_not(member)

    def pool(self, rule: Rule) -> list[Member]:
        if ids := self.named.get(rule.pk):
            return [self.reps[i] for i in ids if i in self.reps]
        sales = [m for m in self.reps.values() if m.role == Role.SALES]
        if rule.team_id:
            return [m for m in sales if m.team_id == rule.team_id]
        return sales

    def on_duty(self, rule: Rule) -> list[Member]:
        """The rule's reps who are active, not away and on shift: what stays true for the
        router's life (its `now` stays put), so it is worked out once per rule."""
        if rule.pk not in self._on_duty:
            self._on_duty[rule.pk] = [
                m for m in self.pool(rule) if m.pk in self.reps and not m.away and self.on_shift(m)
            ]
        return self._on_duty[rule.pk]

    # ---- picking

    def rule_for(self, traits: Traits) -> Rule:
        return next(r for r in self.rules if r.fallback or rule_matches(r.conditions, traits))

    def pick(
        self, lead: Lead, *, channel_id=None, previous: Member | None = None, exclude=()
    ) -> Pick:
        first = self.rules[0]  # the fallback alone when no rule is active: no traits to read
        rule = first if first.fallback else self.rule_for(Traits.of(lead, channel_id))
        returns = (
            previous is not None and previous.pk not in exclude and self.policy.return_to_owner
        )
        if returns and self.can_take(previous):
            return self._give(Pick(self.reps[previous.pk], rule, "returning"))
        able = [m for m in self.on_duty(rule) if m.pk not in exclude and not self._full(m)]
        if not able:
            return Pick(None, rule, "queue")
        return self._give(Pick(self._choose(rule, able), rule, rule.strategy))

    def _give(self, pick: Pick) -> Pick:
        self.open[pick.owner.pk] += 1
        self.today[pick.owner.pk] += 1
        return pick

    def _choose(self, rule: Rule, able: list[Member]) -> Member:
        self.changed.add(rule.pk)
        if rule.strategy == Strategy.WEIGHTED:
            chosen = self._weighted(rule, able)
        else:
            if rule.strategy == Strategy.LEAST_BUSY:
                fewest = min(self.open[m.pk] for m in able)
                able = [m for m in able if self.open[m.pk] == fewest]
            last = rule.state.get("last", 0)
            chosen = next((m for m in able if m.pk > last), able[0])
        rule.state["last"] = chosen.pk
        return chosen

    @staticmethod
    def _weighted(rule: Rule, able: list[Member]) -> Member:
        """Smooth weighted round robin: each rep gains its weight, the richest pays the total."""
        credit = rule.state.setdefault("credit", {})
        for member in able:
            credit[str(member.pk)] = credit.get(str(member.pk), 0) + max(member.weight, 1)
        chosen = max(able, key=lambda m: (credit[str(m.pk)], -m.pk))
        credit[str(chosen.pk)] -= sum(max(m.weight, 1) for m in able)
        return chosen

    def save(self) -> None:
        """Keep the strategies' turns (only for rules that handed out a lead)."""
        state = Rule._meta.get_field("state")
        with connection.cursor() as cursor:
            for rule in self.rules:
                if rule.pk in self.changed:
                    value = state.get_db_prep_save(rule.state, connection=connection)
                    cursor.execute(
                        f"UPDATE {_RULES} SET state = %s WHERE id = %s", [value, rule.pk]
                    )


# The router's reads, written by hand: a batch of one lead (a single POST, a webhook delivery)
# paid more CPU compiling these querysets than the database took to answer them.

_RULES = Rule._meta.db_table


def _in(workspace: Workspace, obj):
    """`obj` with its workspace set to the one at hand, so following it costs no query."""
    obj._meta.get_field("workspace").set_cached_value(obj, workspace)
    return obj


def _named_reps(workspace: Workspace) -> Pending:
    """The read of (rule id, member id) of the rules' named reps, in member id order."""
    return fetch_joined_later(
        f"SELECT n.rule_id, n.member_id FROM {Rule.members.through._meta.db_table} n"
        f" JOIN {_RULES} r ON r.id = n.rule_id WHERE r.workspace_id = %s ORDER BY n.member_id",
        [workspace.pk],
        leading=2,
    )


def _staff(workspace: Workspace) -> Pending:
    """The read of the active members who can own leads, in id order."""
    return fetch_joined_later(
        "SELECT {select} FROM {m} WHERE m.workspace_id = %s AND m.active AND "
        + any_of("m.role")
        + " ORDER BY m.id",
        [workspace.pk, listed(WORKING_ROLES)],
        m=Member,
    )


def _owner_counts(workspace: Workspace, condition: str, params: list) -> dict[int, int]:
    """Owner id -> how many of the workspace's leads meet `condition`."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT owner_id, count(*) FROM {Lead._meta.db_table}"
            f" WHERE workspace_id = %s AND owner_id IS NOT NULL AND {condition} GROUP BY owner_id",
            [workspace.pk, *params],
        )
        return dict(cursor.fetchall())
