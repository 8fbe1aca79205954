"""Assignment rules through the services: validation, roles, and the rule a captured lead meets."""

import pytest

from leadloop.core.access import Actor
from leadloop.core.errors import Forbidden, ValidationFailed
from leadloop.core.models import AuditLog
from leadloop.core.services import member_update, team_create
from leadloop.intake.services import Submission, channel_create, lead_capture
from leadloop.routing.engine import fallback_rule
from leadloop.routing.models import Rule
from leadloop.routing.services import rule_create, rule_delete, rule_reorder, rule_update
from tests.core.support import capture, phone
from tests.routing.support import add_rep, only


def make_rule(team, name="Rule", **fields) -> Rule:
    return rule_create(workspace=team.workspace, actor=team.actors["manager"], name=name, **fields)


def refused(call, *fields: str) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert set(fields) <= set(caught.value.fields), caught.value.fields
    return caught.value.fields


# ---- validation


def test_conditions_are_normalised_to_the_keys_leads_carry(team):
    rule = make_rule(
        team,
        conditions={
            "source": ["Facebook", " facebook ", "Zalo OA"],
            "campaign": ["Tết 2027"],
            "language": ["VI", "en"],
            "fields": {" province ": ["Hà Nội", "Hải Phòng", ""], "budget": []},
            "channel": [],
        },
    )
    assert rule.conditions == {
        "source": ["facebook", "zalo-oa"],
        "campaign": ["tet-2027"],
        "language": ["vi", "en"],
        "fields": {"province": ["Hà Nội", "Hải Phòng"]},
    }


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"city": ["HN"]}, "conditions.city"),
        ({"source": "facebook"}, "conditions.source"),
        ({"source": [1]}, "conditions.source"),
        ({"source": ["!!!"]}, "conditions.source"),
        ({"source": ["x"] * 51}, "conditions.source"),
        ({"campaign": ["a" * 201]}, "conditions.campaign"),
        ({"language": ["a-very-long-language-code"]}, "conditions.language"),
        ({"fields": ["province"]}, "conditions.fields"),
        ({"fields": {"province": "Hà Nội"}}, "conditions.fields"),
        ({"fields": {"": ["x"]}}, "conditions.fields"),
        ({"fields": {f"f{i}": ["x"] for i in range(21)}}, "conditions.fields"),
        ({"source": ["nul\x00"]}, "conditions.source"),
        ({"channel": ["3"]}, "conditions.channel"),
        ({"channel": [True]}, "conditions.channel"),
        ({"channel": [10**30]}, "conditions.channel"),
    ],
)
def test_bad_conditions_are_refused_naming_the_condition(team, conditions, field):
    refused(lambda: make_rule(team, conditions=conditions), field)
    assert not Rule.objects.filter(fallback=False).exists()


def test_channels_must_be_this_workspaces(team, other_team):
    theirs = channel_create(
        workspace=other_team.workspace,
        actor=other_team.actors["admin"],
        kind="form",
        name="Their form",
        settings={},
    )
    refused(lambda: make_rule(team, conditions={"channel": [theirs.pk]}), "conditions.channel")


def test_named_reps_must_be_active_working_members_of_the_workspace(team, other_team):
    admin = team.actors["admin"]
    gone = add_rep(team, "Đã Nghỉ")
    member_update(member=gone, actor=admin, active=False)
    for member in (team.members["marketer"], other_team.members["sales"], gone):
        refused(lambda m=member: make_rule(team, member_ids=[m.pk]), "member_ids")
    refused(lambda: make_rule(team, member_ids=[10**30]), "member_ids")
    rule = make_rule(team, member_ids=[team.members["sales"].pk, team.members["manager"].pk])
    assert set(rule.members.all()) == {team.members["sales"], team.members["manager"]}


def test_a_team_must_be_this_workspaces_and_excludes_named_reps(team, other_team):
    theirs = other_team.workspace.teams.get(name="Sales")
    refused(lambda: make_rule(team, team_id=theirs.pk), "team_id")
    sales = team.workspace.teams.get(name="Sales")
    refused(
        lambda: make_rule(team, team_id=sales.pk, member_ids=[team.members["sales"].pk]),
        "member_ids",
    )
    rule = make_rule(team, team_id=sales.pk)
    refused(
        lambda: rule_update(
            rule=rule, actor=team.actors["admin"], member_ids=[team.members["sales"].pk]
        ),
        "member_ids",
    )
    rule_update(
        rule=rule, actor=team.actors["admin"], team_id=None, member_ids=[team.members["sales"].pk]
    )
    assert rule.team is None and list(rule.members.all()) == [team.members["sales"]]


def test_name_and_strategy_are_checked(team):
    refused(lambda: make_rule(team, name="   "), "name")
    refused(lambda: make_rule(team, name="x" * 101), "name")
    refused(lambda: make_rule(team, strategy="random"), "strategy")


def test_new_rules_go_last_before_the_fallback_and_reorder_moves_them(team):
    first, second, third = (make_rule(team, name=n) for n in ("A", "B", "C"))
    fallback = fallback_rule(team.workspace)
    assert list(Rule.objects.filter(workspace=team.workspace)) == [first, second, third, fallback]
    rule_reorder(
        workspace=team.workspace, actor=team.actors["admin"], ids=[third.pk, first.pk, second.pk]
    )
    assert list(Rule.objects.filter(workspace=team.workspace)) == [third, first, second, fallback]
    for ids in ([third.pk, first.pk], [third.pk, first.pk, second.pk, fallback.pk], [1, 1, 1]):
        refused(
            lambda i=ids: rule_reorder(workspace=team.workspace, actor=team.actors["admin"], ids=i),
            "ids",
        )


def test_the_fallback_keeps_its_place_and_empty_conditions(team):
    fallback = fallback_rule(team.workspace)
    admin = team.actors["admin"]
    with pytest.raises(ValidationFailed) as caught:
        rule_delete(rule=fallback, actor=admin)
    assert caught.value.code == "fallback_rule"
    for change in ({"conditions": {"source": ["facebook"]}}, {"active": False}, {"name": "X"}):
        with pytest.raises(ValidationFailed) as caught:
            rule_update(rule=fallback, actor=admin, **change)
        assert caught.value.code == "fallback_rule" and set(caught.value.fields) == set(change)
    rule_update(
        rule=fallback, actor=admin, member_ids=[team.members["sales2"].pk], strategy="least_busy"
    )
    fallback.refresh_from_db()
    assert (fallback.conditions, fallback.active, fallback.strategy) == ({}, True, "least_busy")
    assert Rule.objects.filter(workspace=team.workspace, fallback=True).count() == 1


def test_changing_the_reps_or_strategy_restarts_the_turns(team):
    only(team, team.members["sales"], team.members["sales2"])
    capture(team, phone=phone(1))
    fallback = fallback_rule(team.workspace)
    turn = fallback.state
    assert turn
    rule_update(
        rule=fallback,
        actor=team.actors["admin"],
        strategy="round_robin",
        member_ids=[team.members["sales2"].pk, team.members["sales"].pk],
    )  # the same reps and strategy: the turn stays
    fallback.refresh_from_db()
    assert fallback.state == turn
    rule_update(rule=fallback, actor=team.actors["admin"], strategy="weighted")
    fallback.refresh_from_db()
    assert fallback.state == {}


def test_writes_are_audited(team):
    rule = make_rule(team, name="Facebook")
    rule_update(rule=rule, actor=team.actors["admin"], name="Facebook HN")
    rule_delete(rule=rule, actor=team.actors["admin"])
    actions = list(AuditLog.objects.filter(object_type="rule").values_list("action", flat=True))
    assert actions == ["rule.create", "rule.update", "rule.delete"]


@pytest.mark.parametrize("role", ["sales", "marketer"])
def test_sales_and_marketers_cannot_change_rules(team, role):
    actor = team.actors[role]
    rule = make_rule(team)
    with pytest.raises(Forbidden):
        rule_create(workspace=team.workspace, actor=actor, name="Mine")
    with pytest.raises(Forbidden):
        rule_update(rule=rule, actor=actor, name="Mine")
    with pytest.raises(Forbidden):
        rule_delete(rule=rule, actor=actor)
    with pytest.raises(Forbidden):
        rule_reorder(workspace=team.workspace, actor=actor, ids=[rule.pk])
    assert Rule.objects.get(pk=rule.pk).name == "Rule"


# ---- which rule a captured lead meets


@pytest.fixture
def reps(team):
    """Three reps besides the fixture's two; the fallback gives every other lead to `sales`."""
    made = {name: add_rep(team, name) for name in ("Hà", "Minh", "Tú")}
    only(team, team.members["sales"])
    return made


def test_a_lead_goes_to_the_named_reps_of_the_rule_its_source_and_fields_match(team, reps):
    make_rule(
        team,
        name="Facebook Hà Nội",
        conditions={"source": ["Facebook"], "fields": {"Tỉnh": ["Hà Nội"]}},
        member_ids=[reps["Hà"].pk],
    )
    matched = capture(team, phone=phone(1), source="facebook", fields={"tinh": "ha noi"}).lead
    other_province = capture(team, phone=phone(2), source="facebook", fields={"tinh": "HCM"}).lead
    other_source = capture(team, phone=phone(3), source="google", fields={"tinh": "Hà Nội"}).lead
    assert matched.owner == reps["Hà"]
    assert other_province.owner == other_source.owner == team.members["sales"]


def test_a_campaign_rule_gives_its_leads_to_a_teams_sales_reps(team, reps):
    hcm = team_create(
        workspace=team.workspace, actor=team.actors["admin"], name="Telesales HCM", kind="sales"
    )
    in_hcm = add_rep(team, "Lan", team_name="Telesales HCM")
    make_rule(team, name="Tết", conditions={"campaign": ["Tết 2027"]}, team_id=hcm.pk)
    leads = [capture(team, phone=phone(i), campaign="Tết 2027").lead for i in range(3)]
    assert {lead.owner for lead in leads} == {in_hcm}
    assert capture(team, phone=phone(9), campaign="he-2027").lead.owner == team.members["sales"]


def test_a_channel_rule_catches_the_leads_of_that_channel(team, reps):
    form = channel_create(
        workspace=team.workspace, actor=team.actors["admin"], kind="form", name="Web", settings={}
    )
    make_rule(team, name="Website", conditions={"channel": [form.pk]}, member_ids=[reps["Tú"].pk])
    through_form = lead_capture(
        workspace=team.workspace,
        actor=Actor.system(team.workspace, "form"),
        submission=Submission(phone=phone(1)),
        channel=form,
    ).lead
    assert through_form.owner == reps["Tú"]
    assert capture(team, phone=phone(2)).lead.owner == team.members["sales"]


def test_a_language_rule_matches_the_leads_language_field(team, reps):
    make_rule(team, name="English", conditions={"language": ["en"]}, member_ids=[reps["Minh"].pk])
    assert capture(team, phone=phone(1), fields={"language": "EN"}).lead.owner == reps["Minh"]
    assert capture(team, phone=phone(2), fields={"lang": "en"}).lead.owner == reps["Minh"]
    assert (
        capture(team, phone=phone(3), fields={"language": "vi"}).lead.owner
        == (team.members["sales"])
    )


def test_the_first_matching_active_rule_wins(team, reps):
    admin = team.actors["admin"]
    hanoi = make_rule(
        team, name="HN", conditions={"source": ["facebook"]}, member_ids=[reps["Hà"].pk]
    )
    tu = make_rule(team, name="Tú", conditions={"source": ["facebook"]}, member_ids=[reps["Tú"].pk])
    assert capture(team, phone=phone(1), source="facebook").lead.owner == reps["Hà"]
    rule_reorder(workspace=team.workspace, actor=admin, ids=[tu.pk, hanoi.pk])
    assert capture(team, phone=phone(2), source="facebook").lead.owner == reps["Tú"]
    rule_update(rule=tu, actor=admin, active=False)
    assert capture(team, phone=phone(3), source="facebook").lead.owner == reps["Hà"]
    rule_delete(rule=hanoi, actor=admin)
    assert capture(team, phone=phone(4), source="facebook").lead.owner == team.members["sales"]
