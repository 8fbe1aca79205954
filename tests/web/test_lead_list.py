"""/leads/: filters, accent-insensitive search, the HTMX partial, pagination, query counts."""

from datetime import timedelta

import pytest

from leadloop.core import clock
from leadloop.pipeline.services import lead_change_stage
from tests.core.support import assert_error
from tests.web.leads import browser, capture, local_today


def names(response) -> set[str]:
    return {lead.contact.full_name for lead in response.context["page"].object_list}


def lead_ids(response) -> set[int]:
    return {lead.pk for lead in response.context["page"].object_list}


@pytest.fixture
def leads(team):
    return {
        "an": capture(
            team, owner="sales", full_name="Nguyễn Văn An", source="facebook", campaign="Tết 2027"
        ),
        "binh": capture(team, owner="sales2", full_name="Trần Thị Bình", source="google"),
        "cuong": capture(
            team, owner="sales", full_name="Lê Cường", email="cuong@example.com", source="facebook"
        ),
    }


def test_the_list_shows_the_workspace_leads_to_a_manager(team, other_team, leads):
    capture(other_team, full_name="Someone Else")
    response = team.browser_client("manager").get("/leads/")
    assert names(response) == {"Nguyễn Văn An", "Trần Thị Bình", "Lê Cường"}
    html = response.content.decode()
    assert f'href="/leads/{leads["an"].pk}/"' in html
    assert f'href="tel:{leads["an"].contact.phone_e164}"' in html


def test_a_sales_rep_sees_only_their_own_leads(team, leads):
    response = team.browser_client("sales").get("/leads/")
    assert names(response) == {"Nguyễn Văn An", "Lê Cường"}
    assert 'name="owner"' not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "nguyen van an"}, {"Nguyễn Văn An"}),
        ({"q": "TRAN thi"}, {"Trần Thị Bình"}),
        ({"q": "cuong@example"}, {"Lê Cường"}),
        ({"source": "facebook"}, {"Nguyễn Văn An", "Lê Cường"}),
        ({"campaign": "tet-2027"}, {"Nguyễn Văn An"}),
        ({"owner": "none"}, set()),
        ({"stage": "k3"}, {"Trần Thị Bình"}),
    ],
)
def test_filters(team, leads, query, expected):
    lead_change_stage(lead=leads["binh"], actor=team.actors["manager"], stage_key="k3")
    assert names(team.browser_client("manager").get("/leads/", query)) == expected


def test_search_by_phone_in_any_written_form(team, leads):
    digits = leads["binh"].contact.phone_e164.removeprefix("+84")
    spaced = f"0{digits[:3]} {digits[3:6]} {digits[6:]}"
    assert names(team.browser_client("manager").get("/leads/", {"q": spaced})) == {"Trần Thị Bình"}


def test_phones_show_as_people_write_them_whatever_form_they_came_in(team):
    written = {
        "912000333": "0912 000 333",  # a spreadsheet cell that lost its 0
        "01689123454": "0389 123 454",  # a pre-2018 eleven-digit mobile
        "+84 (24) 3826-1234": "024 3826 1234",  # a Hà Nội landline
        "12345": "12345",  # not valid: as given
    }
    for raw in written:
        capture(team, phone=raw)
    html = browser(team, "manager").get("/leads/").content.decode()
    for shown in written.values():
        assert f">{shown}</a>" in html, shown
    assert 'href="tel:+84912000333"' in html


def test_owner_me_and_member(team, leads):
    client = team.browser_client("manager")
    assert names(client.get("/leads/", {"owner": "me"})) == set()
    sales2 = team.members["sales2"].pk
    assert names(client.get("/leads/", {"owner": str(sales2)})) == {"Trần Thị Bình"}


def test_created_dates_are_inclusive(team, leads):
    with clock.travel(timedelta(days=-3)):
        capture(team, full_name="Old Lead")
    today = local_today(team)
    client = team.browser_client("manager")
    recent = names(client.get("/leads/", {"created_from": today.isoformat()}))
    assert "Old Lead" not in recent
    assert len(recent) == 3
    old = names(client.get("/leads/", {"created_to": (today - timedelta(days=2)).isoformat()}))
    assert old == {"Old Lead"}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_date_written_day_first_is_read_day_first_in_either_language(team, leads, language):
    today = local_today(team)
    before = (today.replace(day=1) - timedelta(days=40)).replace(day=5)
    old = before if before.month != 5 else before.replace(day=6)  # day and month differ
    with clock.travel(timedelta(days=(old - today).days)):
        capture(team, full_name="Old Lead")
    client = team.browser_client("manager")
    written = {"created_to": old.strftime("%d/%m/%Y"), "lang": language}
    assert names(client.get("/leads/", written)) == {"Old Lead"}


def test_an_invalid_date_shows_an_error_and_no_leads(team, leads):
    response = browser(team, "manager").get("/leads/", {"created_from": "31/02/2026"})
    assert response.status_code == 200
    assert names(response) == set()
    assert "Enter a valid date" in response.content.decode()


def test_an_end_date_before_the_start_shows_an_error_on_its_field(team, leads):
    dates = {"created_from": "2026-12-31", "created_to": "2026-01-01"}
    response = browser(team, "manager").get("/leads/", dates)
    assert response.status_code == 200
    assert names(response) == set()
    errors = response.context["form"].errors
    assert errors["created_to"] == ["The end date is before the start date."]


def test_a_day_no_lead_can_have_shows_an_error_on_its_field(team, leads):
    response = browser(team, "manager").get("/leads/", {"created_to": "9999-12-31"})
    assert response.status_code == 200
    assert names(response) == set()
    assert "1900-01-01" in response.content.decode()  # the field's error names the first day
    export = browser(team, "manager").get("/leads/export/", {"created_to": "9999-12-31"})
    assert export.status_code == 400


def test_drill_down_filters_without_a_field_are_kept_and_shown(team, leads):
    lead_change_stage(lead=leads["an"], actor=team.actors["manager"], stage_key="k2")
    response = browser(team, "manager").get("/leads/", {"reached": "k2", "open": "true"})
    assert names(response) == {"Nguyễn Văn An"}
    html = response.content.decode()
    assert "Reached K2 – Thinking it over or a later stage · Open leads" in html
    assert 'name="reached" value="k2"' in html


def test_not_contacted_filter(team, leads):
    from leadloop.activities.services import activity_log

    activity_log(lead=leads["an"], actor=team.actors["sales"], kind="call")
    response = team.browser_client("manager").get("/leads/", {"open": "true", "contacted": "false"})
    assert names(response) == {"Trần Thị Bình", "Lê Cường"}


def test_htmx_gets_only_the_results(team, leads):
    client = team.browser_client("manager")
    response = client.get("/leads/", {"q": "an", "stage": ""}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="lead-results"' not in html
    assert "Nguyễn Văn An" in html
    assert "HX-Request" in response["Vary"]
    assert response["HX-Push-Url"] == "/leads/?q=an"
    full = client.get("/leads/", {"q": "an"})
    assert "<html" in full.content.decode()
    assert 'hx-get="/leads/"' in full.content.decode()


def test_htmx_history_restore_gets_the_whole_page(team, leads):
    response = team.browser_client("manager").get(
        "/leads/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


def test_pagination_keeps_the_filters(team):
    for n in range(53):
        capture(team, full_name=f"Khách {n}", source="zalo")
    client = team.browser_client("manager")
    first = client.get("/leads/", {"source": "zalo"})
    assert len(first.context["page"].object_list) == 50
    html = first.content.decode()
    assert 'href="?source=zalo&amp;page=2"' in html
    second = client.get("/leads/", {"source": "zalo", "page": "2"})
    assert len(second.context["page"].object_list) == 3


def test_the_list_does_not_grow_queries_with_leads(team, django_assert_max_num_queries):
    for n in range(60):
        capture(
            team,
            owner="sales" if n % 2 else "sales2",
            full_name=f"Khách {n}",
            source="facebook",
            campaign="tet",
        )
    client = team.browser_client("manager")
    with django_assert_max_num_queries(14):
        response = client.get("/leads/")
    assert len(response.context["page"].object_list) == 50


def test_a_contact_s_leads_are_exactly_its_own(team):
    first = capture(team, full_name="Sai số", phone="12345")  # not valid: two contacts share it
    second = capture(team, full_name="Sai số", phone="12345")
    capture(team, full_name="Đúng số", phone="0912345678")  # holds "12345" too
    client = browser(team, "manager")
    page = client.get("/leads/", {"contact": first.contact_id, "lang": "en"})
    assert lead_ids(page) == {first.pk}
    assert f"Leads of contact #{first.contact_id}" in page.content.decode()
    assert lead_ids(client.get("/leads/", {"contact": second.contact_id})) == {second.pk}
    error = assert_error(team.api("manager").get("/leads", contact="abc"), 422)
    assert "contact" in error["fields"]
