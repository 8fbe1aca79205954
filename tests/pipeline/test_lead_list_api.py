"""GET /api/v1/leads: every filter, pagination and bounded queries."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.core.services import member_update
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.services import lead_assign
from tests.core.support import assert_error, at, capture, local, phone

D = date(2026, 3, 10)


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


@pytest.fixture
def leads(team):
    """Six leads with known sources, campaigns, stages, owners and creation times."""
    admin = team.actors["admin"]
    made = {}
    with at(local(D, 23, 30)):
        made["late"] = capture(
            team,
            full_name="Nguyễn Văn An",
            phone="0912 345 678",
            email="an@example.com",
            source="facebook",
            campaign="Tết 2027",
        ).lead
    with at(local(D.replace(day=11), 0, 30)):
        made["next_day"] = capture(
            team, full_name="Trần Thị Bích", phone=phone(2), source="google", campaign="Tết 2027"
        ).lead
    with at(local(D.replace(day=9), 23, 59)):
        made["day_before"] = capture(
            team, full_name="Lê Hoàng", phone=phone(3), source="facebook", campaign="Hè 2026"
        ).lead
    with at(local(D, 0, 0)):
        made["midnight"] = capture(team, full_name="Phạm Đức", email="duc@example.com").lead
    made["k3"] = capture(team, full_name="Võ Minh", phone=phone(5), source="website").lead
    lead_change_stage(lead=made["k3"], actor=admin, stage_key="k3")
    for role in ("sales", "sales2"):
        member_update(member=team.members[role], actor=admin, active=False)
    made["unassigned"] = capture(team, full_name="Đặng Thu", phone=phone(6)).lead
    for role in ("sales", "sales2"):
        member_update(member=team.members[role], actor=admin, active=True)
    sales, sales2 = team.members["sales"], team.members["sales2"]
    for name in ("late", "next_day", "midnight"):
        lead_assign(lead=made[name], actor=admin, owner_id=sales.id)
    for name in ("day_before", "k3"):
        lead_assign(lead=made[name], actor=admin, owner_id=sales2.id)
    return {name: lead.pk for name, lead in made.items()}


def test_no_filter_lists_every_lead_newest_first(admin_api, leads):
    response = admin_api.get("/leads")
    body = response.json()
    assert set(body) == {"items", "total", "page", "page_size"}
    assert body["total"] == 6
    assert (body["page"], body["page_size"]) == (1, 50)
    created = [item["created_at"] for item in body["items"]]
    assert created == sorted(created, reverse=True)


def test_filter_by_stage(admin_api, leads):
    assert ids(admin_api.get("/leads", stage="k3")) == {leads["k3"]}
    assert ids(admin_api.get("/leads", stage="new")) == set(leads.values()) - {leads["k3"]}
    assert ids(admin_api.get("/leads", stage="no-such-stage")) == set()


def test_filter_by_owner_id_me_and_none(team, leads):
    sales, sales2 = team.members["sales"], team.members["sales2"]
    admin_api = team.api("admin")
    mine = {leads["late"], leads["next_day"], leads["midnight"]}
    assert ids(admin_api.get("/leads", owner=str(sales.id))) == mine
    assert ids(admin_api.get("/leads", owner=str(sales2.id))) == {leads["day_before"], leads["k3"]}
    assert ids(admin_api.get("/leads", owner="none")) == {leads["unassigned"]}
    assert ids(admin_api.get("/leads", owner="me")) == set()  # the admin owns nothing
    assert ids(team.api("sales").get("/leads", owner="me")) == mine
    assert ids(team.api("manager").get("/leads", owner="me")) == set()
    assert admin_api.get("/leads", owner="abc").status_code == 422
    assert admin_api.get("/leads", owner="99999999999999999999999").status_code == 422


def test_filter_by_source_and_campaign(admin_api, leads):
    assert ids(admin_api.get("/leads", source="facebook")) == {leads["late"], leads["day_before"]}
    assert ids(admin_api.get("/leads", campaign="tet-2027")) == {leads["late"], leads["next_day"]}
    assert ids(admin_api.get("/leads", source="facebook", campaign="tet-2027")) == {leads["late"]}
    assert ids(admin_api.get("/leads", source="tiktok")) == set()


def test_created_dates_are_inclusive_days_in_the_workspace_time_zone(admin_api, leads):
    on_d = {leads["late"], leads["midnight"]}  # 00:00 and 23:30 local time on D
    assert ids(admin_api.get("/leads", created_from=str(D), created_to=str(D))) == on_d
    day_after = str(D.replace(day=11))
    assert ids(admin_api.get("/leads", created_from=day_after, created_to=day_after)) == {
        leads["next_day"]
    }
    assert ids(admin_api.get("/leads", created_to=str(D.replace(day=9)))) == {leads["day_before"]}
    everything_from_d = ids(admin_api.get("/leads", created_from=str(D)))
    assert leads["day_before"] not in everything_from_d
    assert on_d | {leads["next_day"], leads["k3"], leads["unassigned"]} == everything_from_d


@pytest.mark.parametrize(
    "params",
    [
        {"created_from": "0001-01-01"},
        {"created_to": "9999-12-31"},
        {"sla_from": "0001-01-01"},
        {"sla_to": "9999-12-31"},
        {"created_from": "1899-12-31"},
    ],
)
def test_a_day_no_lead_can_have_is_422_on_its_field(admin_api, leads, params):
    error = assert_error(admin_api.get("/leads", **params), 422)
    assert list(error["fields"]) == list(params)
    [message] = error["fields"][next(iter(params))]
    assert "1900-01-01" in message and "2999-12-31" in message
    assert_error(admin_api.get("/leads/export", format="csv", **params), 422)  # not an empty file


def test_the_first_and_last_days_are_taken(admin_api, leads):
    everything = ids(admin_api.get("/leads"))
    assert ids(admin_api.get("/leads", created_from="1900-01-01", created_to="2999-12-31")) == (
        everything
    )


@pytest.mark.parametrize(
    "q", ["nguyen van an", "Nguyễn Văn An", "NGUYEN", "nguyễn an", "  van   an "]
)
def test_q_is_accent_and_case_insensitive_on_the_name(admin_api, leads, q):
    assert ids(admin_api.get("/leads", q=q)) == {leads["late"]}


@pytest.mark.parametrize(
    "q", ["0912345678", "0912 345 678", "+84 912 345 678", "912345678", "0912.345.678"]
)
def test_q_finds_a_lead_by_its_phone_in_any_written_form(admin_api, leads, q):
    assert ids(admin_api.get("/leads", q=q)) == {leads["late"]}


def test_q_finds_by_email_and_by_name_with_d_stroke(admin_api, leads):
    assert ids(admin_api.get("/leads", q="duc@example.com")) == {leads["midnight"]}
    assert ids(admin_api.get("/leads", q="dang thu")) == {leads["unassigned"]}
    assert ids(admin_api.get("/leads", q="không có ai")) == set()


def test_pagination_walks_every_lead_once(admin_api, leads):
    seen, totals = [], set()
    for page in (1, 2, 3):
        body = admin_api.get("/leads", page=page, page_size=2).json()
        assert (body["page"], body["page_size"]) == (page, 2)
        totals.add(body["total"])
        assert len(body["items"]) == 2
        seen += [item["id"] for item in body["items"]]
    assert totals == {6}
    assert sorted(seen) == sorted(leads.values())
    past_the_end = admin_api.get("/leads", page=4, page_size=2).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 6


def test_list_items_have_the_lead_fields(admin_api, leads):
    item = next(i for i in admin_api.get("/leads", q="nguyen van an").json()["items"])
    assert item["contact"]["full_name"] == "Nguyễn Văn An"
    assert item["contact"]["phone_e164"] == "+84912345678"
    assert (item["stage"], item["source"], item["campaign"]) == ("new", "facebook", "tet-2027")
    assert item["created_at"].startswith(f"{D}T23:30") and item["created_at"].endswith("+07:00")
    assert item["is_open"] is True


def _list_queries(api, page_size: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/leads", page_size=page_size)
    assert response.status_code == 200
    assert len(response.json()["items"]) == page_size
    return len(queries)


def test_list_page_of_50_runs_a_bounded_number_of_queries(team, django_assert_max_num_queries):
    sources = ["facebook", "google", "zalo", "website", "tiktok"]
    for i in range(55):
        capture(
            team,
            full_name=f"Khách {i}",
            phone=phone(i),
            source=sources[i % 5],
            campaign=f"Chiến dịch {i % 7}",
        )
    api = team.api("manager")
    api.get("/leads")  # the token's first use records last_used_at
    small = _list_queries(api, 5)
    with django_assert_max_num_queries(6):
        response = api.get("/leads", page_size=50)
    assert len(response.json()["items"]) == 50
    assert _list_queries(api, 50) == small  # no query per row


def test_q_finds_a_lead_by_the_pre_2018_form_of_its_number(team):
    lead = capture(team, full_name="Số Mới", phone="0323 456 789").lead
    old = capture(team, full_name="Số Cũ", phone="0168 765 4321").lead  # stored as 0387654321
    api = team.api("admin")
    assert ids(api.get("/leads", q="0162 345 6789")) == {lead.pk}
    assert ids(api.get("/leads", q="01623456789")) == {lead.pk}
    assert ids(api.get("/leads", q="0387 654 321")) == {old.pk}
    assert ids(api.get("/leads", q="0168 765 4321")) == {old.pk}
    assert ids(api.get("/leads", q="456 789")) == {lead.pk}  # a partial number still works
