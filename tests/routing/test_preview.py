"""The "who would get this lead?" tester: it answers like the router and changes nothing."""

from datetime import date

import pytest
from django.utils import translation

from leadloop.core.errors import Forbidden, ValidationFailed
from leadloop.core.services import member_update
from leadloop.intake.services import channel_create
from leadloop.pipeline.models import Lead
from leadloop.routing.engine import fallback_rule
from leadloop.routing.models import Rule
from leadloop.routing.selectors import routing_preview
from leadloop.routing.services import rule_create
from tests.core.support import at, capture, local, phone
from tests.routing.support import add_rep, only


def preview(team, role: str = "manager", **lead):
    return routing_preview(workspace=team.workspace, actor=team.actors[role], **lead)


def test_the_tester_names_the_next_pick_without_taking_the_turn(team):
    a, b = add_rep(team, "An"), add_rep(team, "Bình")
    only(team, a, b)
    capture(team, phone=phone(1))  # a had the first lead: b is next
    state = fallback_rule(team.workspace).state
    for _ in range(3):
        answer = preview(team)
        assert (answer.pick, answer.reason, answer.rule.fallback) == (b, "round_robin", True)
    assert fallback_rule(team.workspace).state == state
    assert Lead.objects.count() == 1
    assert capture(team, phone=phone(2)).lead.owner == b


def test_the_tester_says_which_rule_matches_and_why_each_rep_cannot_take_a_lead(team):
    admin = team.actors["admin"]
    free = add_rep(team, "Rảnh")
    away = add_rep(team, "Vắng", away=True)
    full = add_rep(team, "Đầy", capacity=1)
    done = add_rep(team, "Đủ", daily_limit=1)
    night = add_rep(team, "Đêm", working_hours={"0": [["20:00", "23:00"]]})
    gone = add_rep(team, "Nghỉ")
    reps = [free, away, full, done, night, gone]
    facebook = rule_create(
        workspace=team.workspace,
        actor=admin,
        name="Facebook Hà Nội",
        conditions={"source": ["facebook"], "fields": {"province": ["Hà Nội"]}},
        member_ids=[r.pk for r in reps],
    )
    member_update(member=gone, actor=admin, active=False)
    monday = local(date(2027, 3, 1), 10)
    with at(monday), translation.override("en"):
        only(team, full)
        capture(team, phone=phone(1))
        only(team, done)
        capture(team, phone=phone(2))
        answer = preview(team, source="Facebook", fields={"province": "ha noi"})
    assert answer.rule == facebook and answer.pick == free
    statuses = {c.member.full_name: (c.why_not, c.status) for c in answer.candidates}
    assert statuses == {
        "Rảnh": ("", "Can take a lead now"),
        "Vắng": ("away", "Away"),
        "Đầy": ("at_capacity", "At capacity (1/1 open leads)"),
        "Đủ": ("daily_limit", "Daily limit reached (1/1 today)"),
        "Đêm": ("off_shift", "Off shift (working hours or a holiday)"),
        "Nghỉ": ("inactive", "Inactive"),
    }
    with at(monday):
        other = preview(team, source="google", fields={"province": "Hà Nội"})
    assert other.rule.fallback and other.pick is None and other.reason == "queue"


def test_the_tester_matches_language_and_channel(team):
    admin = team.actors["admin"]
    web = channel_create(
        workspace=team.workspace, actor=admin, kind="form", name="Web", settings={}
    )
    english = add_rep(team, "English")
    webby = add_rep(team, "Web")
    rule_create(
        workspace=team.workspace,
        actor=admin,
        name="EN",
        conditions={"language": ["en"]},
        member_ids=[english.pk],
    )
    rule_create(
        workspace=team.workspace,
        actor=admin,
        name="Web",
        conditions={"channel": [web.pk]},
        member_ids=[webby.pk],
    )
    assert preview(team, language="EN").pick == english
    assert preview(team, channel_id=web.pk).pick == webby
    assert preview(team).rule.fallback


def test_the_tester_creates_no_source_campaign_or_turn(team):
    only(team, team.members["sales"])
    rules = list(Rule.objects.values_list("id", "state"))
    preview(team, source="facebook", campaign="tet-2027")
    assert list(Rule.objects.values_list("id", "state")) == rules
    assert not team.workspace.sources.exists() and not team.workspace.campaigns.exists()


def test_an_unknown_channel_is_refused(team, other_team):
    theirs = channel_create(
        workspace=other_team.workspace,
        actor=other_team.actors["admin"],
        kind="form",
        name="Web",
        settings={},
    )
    with pytest.raises(ValidationFailed) as caught:
        preview(team, channel_id=theirs.pk)
    assert "channel_id" in caught.value.fields


@pytest.mark.parametrize("role", ["sales", "marketer"])
def test_only_managers_and_admins_use_the_tester(team, role):
    with pytest.raises(Forbidden):
        preview(team, role)
