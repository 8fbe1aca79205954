"""GET/POST /api/v1/campaigns and campaigns/sources created on first use by captures."""

import pytest

from leadloop.campaigns.models import Campaign, Source
from leadloop.campaigns.services import campaign_create
from leadloop.core.errors import Conflict, Forbidden, ValidationFailed
from tests.core.support import assert_error, capture, phone

SHAPE = {"id", "key", "name", "source", "budget", "starts_on", "ends_on"}


def test_create_answers_201_and_the_list_shows_it(team):
    api = team.api("marketer")
    body = {
        "name": "Tết 2027",
        "source": "Facebook",
        "budget": 50_000_000,
        "starts_on": "2027-01-01",
        "ends_on": "2027-02-15",
    }
    response = api.post("/campaigns", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert set(created) == SHAPE
    assert created | {"id": 0} == {
        "id": 0,
        "key": "tet-2027",
        "name": "Tết 2027",
        "source": "facebook",
        "budget": 50_000_000,
        "starts_on": "2027-01-01",
        "ends_on": "2027-02-15",
    }
    assert Source.objects.filter(workspace=team.workspace, key="facebook").exists()
    listed = team.api("sales").get("/campaigns").json()
    assert [c["id"] for c in listed] == [created["id"]]
    assert listed[0] == created


def test_budget_is_a_whole_number_of_currency_units(team):
    api = team.api("admin")
    assert api.post("/campaigns", {"name": "Big", "budget": 10**15}).json()["budget"] == 10**15
    assert_error(api.post("/campaigns", {"name": "Float", "budget": 1.5}), 422)
    assert_error(api.post("/campaigns", {"name": "Neg", "budget": -1}), 422)
    assert_error(api.post("/campaigns", {"name": "Huge", "budget": 10**16}), 422)


@pytest.mark.parametrize("name", ["", "   ", "!!!", "x" * 201])
def test_a_campaign_needs_a_usable_name(team, name):
    assert_error(team.api("admin").post("/campaigns", {"name": name}), 422)
    assert not Campaign.objects.exists()


def test_ending_before_starting_is_a_422(team):
    body = {"name": "Back", "starts_on": "2027-02-01", "ends_on": "2027-01-01"}
    error = assert_error(team.api("admin").post("/campaigns", body), 422)
    assert "ends_on" in error["fields"]


def test_the_same_name_twice_is_a_409_even_written_differently(team):
    api = team.api("admin")
    assert api.post("/campaigns", {"name": "Tết 2027"}).status_code == 201
    assert_error(api.post("/campaigns", {"name": "tet 2027"}), 409)
    assert Campaign.objects.count() == 1


def test_campaigns_are_per_workspace(team, other_team):
    team.api("admin").post("/campaigns", {"name": "Tết 2027"})
    assert other_team.api("admin").get("/campaigns").json() == []
    assert other_team.api("admin").post("/campaigns", {"name": "Tết 2027"}).status_code == 201


def test_captures_create_sources_and_campaigns_on_first_use_and_reuse_them(team):
    campaign_create(workspace=team.workspace, actor=team.actors["marketer"], name="Tết 2027")
    first = capture(team, phone=phone(1), source="Zalo OA", campaign="TẾT 2027").lead
    second = capture(team, phone=phone(2), source="zalo-oa", campaign="Hè 2026").lead
    assert first.campaign.key == "tet-2027" and first.campaign.name == "Tết 2027"
    assert first.source == second.source
    assert first.source.key == "zalo-oa"
    assert second.campaign.key == "he-2026"
    assert Campaign.objects.filter(workspace=team.workspace).count() == 2
    assert {c["key"] for c in team.api("admin").get("/campaigns").json()} == {"tet-2027", "he-2026"}


def test_campaign_create_service_rules(team):
    with pytest.raises(Forbidden):
        campaign_create(workspace=team.workspace, actor=team.actors["sales"], name="X")
    with pytest.raises(ValidationFailed):
        campaign_create(workspace=team.workspace, actor=team.actors["admin"], name="X", budget=-5)
    campaign_create(workspace=team.workspace, actor=team.actors["manager"], name="X")
    with pytest.raises(Conflict):
        campaign_create(workspace=team.workspace, actor=team.actors["admin"], name="x")
