"""Helpers of the routing tests: reps with routing settings, one-rule setups, JSON verbs."""

import json
from collections import Counter

from leadloop.contacts.normalize import fold
from leadloop.core.models import Member
from leadloop.core.services import member_create
from leadloop.pipeline.models import Lead
from leadloop.routing.engine import fallback_rule
from leadloop.routing.services import member_routing_update, rule_update


def add_rep(team, name: str, *, team_name: str = "Sales", **routing) -> Member:
    """A sales rep of `team`'s workspace, with routing settings (capacity, weight, away …)."""
    admin = team.actors["admin"]
    member = member_create(
        workspace=team.workspace,
        actor=admin,
        email=f"{fold(name).replace(' ', '.')}@{team.workspace.slug}.test",
        full_name=name,
        role="sales",
        team=team_name,
    )
    return member_routing_update(member=member, actor=admin, **routing) if routing else member


def only(team, *reps: Member, strategy: str = "round_robin") -> None:
    """Every lead goes by the fallback rule to `reps`."""
    rule_update(
        rule=fallback_rule(team.workspace),
        actor=team.actors["admin"],
        member_ids=[rep.pk for rep in reps],
        strategy=strategy,
    )


def open_counts(*reps: Member) -> dict[int, int]:
    return {rep.pk: Lead.objects.filter(owner=rep, is_open=True).count() for rep in reps}


def owners(leads) -> Counter:
    return Counter(lead.owner_id for lead in leads)


def send(api, method: str, path: str, body=None):
    """PATCH, PUT or DELETE with a JSON body through a tests.conftest.ApiClient."""
    data = json.dumps(body) if body is not None else ""
    return getattr(api.client, method)(f"/api/v1{path}", data=data, content_type="application/json")
