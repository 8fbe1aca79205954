"""/api/v1/routing/*, /api/v1/sla/policy, PATCH /api/v1/members/{id} and /api/v1/me/away."""

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from leadloop.core.access import Actor
from leadloop.core.models import Member
from leadloop.core.services import token_create
from leadloop.routing.engine import fallback_rule, policy_of
from leadloop.routing.models import Rule
from tests.conftest import ApiClient
from tests.core.support import assert_error, capture, phone
from tests.routing.support import add_rep, only, send

POLICY = {
    "business_hours": {"0": [["08:00", "12:00"], ["13:30", "17:30"]], "5": [["08:00", "11:00"]]},
    "holidays": ["2027-02-16", "2027-02-15"],
    "return_to_owner": False,
    "assign_minutes": 10,
    "first_contact_minutes": 30,
    "attempt_cadence": ["30m", "2h", "next_morning"],
    "not_reached_stage": "k4-1",
    "idle_hours": 24,
    "journey_days": 30,
    "journey_end_stage": "k4-2",
}


@pytest.fixture
def api(team):
    return team.api("manager")


def rule_body(team, **fields) -> dict:
    return {
        "name": "Facebook Hà Nội",
        "conditions": {"source": ["Facebook"], "fields": {"province": ["Hà Nội"]}},
        "member_ids": [team.members["sales2"].pk],
        "strategy": "weighted",
        **fields,
    }


def test_a_manager_creates_reads_changes_and_deletes_a_rule(team, api):
    response = api.post("/routing/rules", rule_body(team))
    assert response.status_code == 201, response.content
    rule = response.json()
    sales2 = team.members["sales2"]
    assert rule | {"id": 0, "position": 0} == {
        "id": 0,
        "position": 0,
        "name": "Facebook Hà Nội",
        "active": True,
        "fallback": False,
        "conditions": {"source": ["facebook"], "fields": {"province": ["Hà Nội"]}},
        "team": None,
        "members": [{"id": sales2.pk, "name": sales2.full_name}],
        "strategy": "weighted",
    }
    listed = api.get("/routing/rules").json()
    assert [r["id"] for r in listed] == [rule["id"], fallback_rule(team.workspace).pk]
    assert listed[-1]["fallback"] is True
    assert api.get(f"/routing/rules/{rule['id']}").json() == rule
    team_id = team.workspace.teams.get(name="Sales").pk
    patched = send(
        api, "patch", f"/routing/rules/{rule['id']}", {"team_id": team_id, "member_ids": []}
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["team"] == {"id": team_id, "name": "Sales"}
    assert patched.json()["name"] == "Facebook Hà Nội"  # what was not sent stays
    assert capture(team, phone=phone(1), source="facebook", fields={"province": "Hà Nội"}).lead
    assert send(api, "delete", f"/routing/rules/{rule['id']}").status_code == 204
    assert_error(api.get(f"/routing/rules/{rule['id']}"), 404, "not_found")


def test_reorder_puts_the_rules_in_the_given_order(team, api):
    ids = [api.post("/routing/rules", {"name": n}).json()["id"] for n in ("A", "B", "C")]
    response = api.post("/routing/rules/reorder", {"ids": ids[::-1]})
    assert response.status_code == 200
    assert [r["name"] for r in response.json()] == ["C", "B", "A", "Fallback"]
    error = assert_error(api.post("/routing/rules/reorder", {"ids": ids[:2]}), 422)
    assert "ids" in error["fields"]


def test_the_fallback_cannot_be_deleted_nor_given_conditions(team, api):
    fallback = fallback_rule(team.workspace).pk
    assert_error(send(api, "delete", f"/routing/rules/{fallback}"), 422, "fallback_rule")
    error = assert_error(
        send(api, "patch", f"/routing/rules/{fallback}", {"conditions": {"source": ["x"]}}),
        422,
        "fallback_rule",
    )
    assert "conditions" in error["fields"]
    response = send(api, "patch", f"/routing/rules/{fallback}", {"strategy": "least_busy"})
    assert response.json()["strategy"] == "least_busy"
    assert Rule.objects.filter(pk=fallback, conditions={}).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "conditions": {"city": ["HN"]}}, "conditions.city"),
        ({"name": "x", "conditions": {"source": "facebook"}}, "conditions.source"),
        ({"name": "x", "conditions": {"source": ["x"] * 51}}, "conditions.source"),
        ({"name": "x", "conditions": {"channel": [10**30]}}, "conditions.channel"),
        ({"name": "x", "conditions": {"fields": {"a": "b"}}}, "conditions.fields.a"),
        ({"name": "x", "member_ids": [10**30]}, "member_ids"),
        ({"name": "x", "member_ids": ["one"]}, "member_ids.0"),
        ({"name": "x", "team_id": 10**30}, "team_id"),
        ({"name": "x", "strategy": "random"}, "strategy"),
        ({"name": ""}, "name"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({}, "name"),
    ],
)
def test_bad_rules_are_422_naming_the_field(team, api, body, field):
    error = assert_error(api.post("/routing/rules", body), 422, "validation_error")
    assert field in error["fields"], error
    assert not Rule.objects.filter(fallback=False).exists()


def test_patch_refuses_null_for_fields_that_cannot_be_empty(team, api):
    rule = api.post("/routing/rules", {"name": "A"}).json()
    for body in ({"name": None}, {"active": None}, {"member_ids": None}, {"strategy": None}):
        assert_error(send(api, "patch", f"/routing/rules/{rule['id']}", body), 422)
    assert Rule.objects.get(pk=rule["id"]).name == "A"


@pytest.mark.parametrize("role", ["sales", "marketer"])
def test_sales_and_marketers_get_403_on_routing_and_the_policy(team, role):
    api = team.api(role)
    fallback = fallback_rule(team.workspace).pk
    for response in (
        api.get("/routing/rules"),
        api.post("/routing/rules", {"name": "Mine"}),
        api.get(f"/routing/rules/{fallback}"),
        send(api, "patch", f"/routing/rules/{fallback}", {"strategy": "weighted"}),
        send(api, "delete", f"/routing/rules/{fallback}"),
        api.post("/routing/rules/reorder", {"ids": []}),
        api.post("/routing/preview", {}),
        api.get("/sla/policy"),
        send(api, "put", "/sla/policy", POLICY),
        send(api, "patch", f"/members/{team.members['sales2'].pk}", {"capacity": 1}),
    ):
        assert_error(response, 403, "forbidden")
    assert not Rule.objects.filter(fallback=False).exists()
    assert Rule.objects.get(pk=fallback).strategy == "round_robin"


def test_another_workspaces_rule_and_member_are_404(team, other_team, api):
    theirs = fallback_rule(other_team.workspace).pk
    assert_error(api.get(f"/routing/rules/{theirs}"), 404, "not_found")
    assert_error(send(api, "patch", f"/routing/rules/{theirs}", {"strategy": "weighted"}), 404)
    assert_error(send(api, "delete", f"/routing/rules/{theirs}"), 404)
    rep = other_team.members["sales"].pk
    assert_error(send(api, "patch", f"/members/{rep}", {"capacity": 1}), 404, "not_found")
    assert_error(api.get("/routing/rules/99999999999999999999999"), 404)
    assert Rule.objects.get(pk=theirs).strategy == "round_robin"


def test_the_preview_answers_who_would_get_the_lead(team, api):
    rep = add_rep(team, "Hà", capacity=1)
    only(team, rep)
    assert capture(team, phone=phone(1)).lead.owner == rep  # rep is full now
    api.post("/routing/rules", rule_body(team, member_ids=[rep.pk, team.members["sales2"].pk]))
    response = api.post(
        "/routing/preview", {"source": "facebook", "fields": {"province": "ha noi"}}
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    sales2 = team.members["sales2"]
    assert answer["rule"]["name"] == "Facebook Hà Nội" and answer["fallback"] is False
    assert answer["pick"] == {"id": sales2.pk, "name": sales2.full_name}
    assert [(r["id"], r["can_take"], r["why_not"]) for r in answer["reps"]] == [
        (sales2.pk, True, None),
        (rep.pk, False, "at_capacity"),
    ]
    assert_error(api.post("/routing/preview", {"channel_id": 10**30}), 422)
    assert_error(api.post("/routing/preview", {"fields": {"a": ["b"]}}), 422)
    assert_error(api.post("/routing/preview", {"source": "x" * 201}), 422)


def test_the_policy_is_read_and_replaced_whole(team, api):
    default = api.get("/sla/policy").json()
    assert default["business_hours"] == {} and default["attempt_cadence"] == ["2h", "next_morning"]
    response = send(api, "put", "/sla/policy", POLICY)
    assert response.status_code == 200, response.content
    assert response.json() == POLICY | {"holidays": ["2027-02-15", "2027-02-16"]}
    policy = policy_of(team.workspace)
    assert (policy.not_reached_stage.key, policy.idle_hours) == ("k4-1", 24)
    cleared = send(api, "put", "/sla/policy", POLICY | {"not_reached_stage": None})
    assert cleared.json()["not_reached_stage"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"business_hours": {"8": [["08:00", "12:00"]]}}, "business_hours"),
        ({"business_hours": {"0": [["12:00", "08:00"]]}}, "business_hours"),
        ({"business_hours": {"0": [["8h", "12h"]]}}, "business_hours"),
        ({"holidays": ["16/02/2027"]}, "holidays"),
        ({"assign_minutes": 0}, "assign_minutes"),
        ({"first_contact_minutes": 10**30}, "first_contact_minutes"),
        ({"attempt_cadence": ["soon"]}, "attempt_cadence"),
        ({"not_reached_stage": "nope"}, "not_reached_stage"),
        ({"idle_hours": -1}, "idle_hours"),
        ({"journey_days": 3651}, "journey_days"),
        ({"journey_end_stage": 5}, "journey_end_stage"),
        ({"extra": 1}, "extra"),
        ({"first_contact_minutes": True}, "first_contact_minutes"),
        ({"business_hours": {"0": [["08:00", "12:00"], ["11:00", "13:00"]]}}, "business_hours"),
        ({"business_hours": {"0": []}}, "business_hours"),  # never open: leads would wait
        ({"holidays": ["0001-01-01"]}, "holidays"),
        ({"holidays": ["9999-12-31"]}, "holidays"),
    ],
)
def test_a_bad_policy_is_422_naming_the_field(team, api, change, field):
    error = assert_error(send(api, "put", "/sla/policy", POLICY | change), 422)
    assert field in error["fields"], error
    assert policy_of(team.workspace).assign_minutes == 5


def test_a_partial_put_is_422(team, api):
    error = assert_error(send(api, "put", "/sla/policy", {"idle_hours": 4}), 422)
    assert "business_hours" in error["fields"]


def test_a_manager_sets_a_reps_routing_over_the_api(team, api):
    rep = team.members["sales"]
    body = {
        "capacity": 20,
        "daily_limit": 8,
        "weight": 3,
        "away": True,
        "working_hours": {"0": [["08:00", "17:00"]]},
    }
    response = send(api, "patch", f"/members/{rep.pk}", body)
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in body} == body
    rep.refresh_from_db()
    assert (rep.capacity, rep.daily_limit, rep.weight, rep.away) == (20, 8, 3, True)
    only_weight = send(api, "patch", f"/members/{rep.pk}", {"weight": 1}).json()
    assert (only_weight["weight"], only_weight["capacity"]) == (1, 20)
    for bad in ({"capacity": -1}, {"weight": 0}, {"away": None}, {"role": "admin"}):
        assert_error(send(api, "patch", f"/members/{rep.pk}", bad), 422)


def test_a_rep_switches_themselves_away_and_back(team):
    api = team.api("sales")
    response = api.post("/me/away", {"away": True})
    assert response.status_code == 200 and response.json()["away"] is True
    assert Member.objects.get(pk=team.members["sales"].pk).away
    assert api.post("/me/away", {"away": False}).json()["away"] is False
    assert_error(api.post("/me/away", {"away": "maybe"}), 422)
    me = team.members["sales"].pk
    assert_error(send(api, "patch", f"/members/{me}", {"capacity": 99}), 403, "forbidden")
    assert send(api, "patch", f"/members/{me}", {"away": True}).json()["away"] is True


def test_a_token_without_a_member_cannot_switch_away(team):
    _token, key = token_create(
        workspace=team.workspace, actor=Actor.system(team.workspace), name="zapier", role="admin"
    )
    assert_error(ApiClient(key).post("/me/away", {"away": True}), 403, "forbidden")


# ---- bad input never makes a 5xx

WRITES = [
    ("post", "/routing/rules"),
    ("post", "/routing/rules/reorder"),
    ("post", "/routing/preview"),
    ("put", "/sla/policy"),
    ("post", "/me/away"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("raw", ["{", '{"a": 1,}', "\x00", "[]", "null", '"text"', "1"])
def test_malformed_or_non_object_bodies_are_4xx_json(team, api, method, path, raw):
    response = getattr(api.client, method)(
        f"/api/v1{path}", data=raw, content_type="application/json"
    )
    assert_error(response)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\x00b"},
        {"name": "x", "conditions": {"source": ["a\x00"]}},
        {"name": "x", "conditions": {"language": ["v\x00i"]}},
        {"name": "x", "conditions": {"fields": {"a\x00": ["b"]}}},
        {"name": "x", "conditions": {"fields": {"a": ["b\x00"]}}},
    ],
)
def test_nul_characters_in_a_rule_are_422(team, api, body):
    assert_error(api.post("/routing/rules", body), 422)
    assert not Rule.objects.filter(fallback=False).exists()


def test_nul_characters_elsewhere_are_refused(team, api):
    preview = api.post("/routing/preview", {"source": "a\x00", "fields": {"a\x00": "b\x00"}})
    assert set(assert_error(preview, 422)["fields"]) == {"source", "fields"}
    for change in (
        {"holidays": ["2027-02-16\x00"]},
        {"attempt_cadence": ["2h\x00"]},
        {"business_hours": {"0": [["08:00\x00", "12:00"]]}},
        {"not_reached_stage": "k4\x00"},
    ):
        assert_error(send(api, "put", "/sla/policy", POLICY | change), 422)
    rep = team.members["sales"].pk
    hours = {"working_hours": {"0\x00": [["08:00", "12:00"]]}}
    assert_error(send(api, "patch", f"/members/{rep}", hours), 422)


conditions = st.dictionaries(
    st.sampled_from(["source", "campaign", "channel", "language", "fields"]) | st.text(max_size=6),
    st.lists(st.text(max_size=12) | st.integers(-(2**70), 2**70), max_size=4)
    | st.dictionaries(st.text(max_size=6), st.lists(st.text(max_size=6), max_size=3), max_size=3)
    | st.text(max_size=6)
    | st.none(),
    max_size=4,
)
rule_bodies = st.fixed_dictionaries(
    {"name": st.text(max_size=20)},
    optional={
        "conditions": conditions,
        "team_id": st.none() | st.integers(-(2**70), 2**70),
        "member_ids": st.lists(st.integers(-(2**70), 2**70), max_size=3),
        "strategy": st.sampled_from(["round_robin", "weighted", "least_busy", "x"]),
        "active": st.booleans() | st.none(),
    },
)


@hypothesis_settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=rule_bodies)
def test_random_rule_bodies_never_make_a_5xx(team, api, body):
    response = api.post("/routing/rules", body)
    assert response.status_code < 500, (body, response.content)
    if response.status_code != 201:
        assert_error(response, 422)
