"""/reports/: the stacked chart's data, the table and funnel links, filters, query counts."""

import json
from datetime import timedelta

import pytest

from leadloop.core import clock
from leadloop.pipeline.services import lead_change_stage
from tests.web.leads import browser, capture, local_today


@pytest.fixture
def week(team):
    """Two leads today (one moved to K3), one three days ago from google."""
    made = {
        "an": capture(team, full_name="An", source="facebook"),
        "binh": capture(team, full_name="Bình", source="facebook"),
    }
    lead_change_stage(lead=made["binh"], actor=team.actors["manager"], stage_key="k3")
    with clock.travel(timedelta(days=-3)):
        made["cuong"] = capture(team, full_name="Cường", source="google")
    return made


def chart(response) -> dict:
    return response.context["chart"]


def listed(client, url: str) -> set[str]:
    return {lead.contact.full_name for lead in client.get(url).context["page"].object_list}


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "sales"])
def test_the_report_renders_for_every_role(team, week, role):
    response = team.browser_client(role).get("/reports/")
    assert response.status_code == 200
    assert "/static/plotly/plotly.min.js" in response.content.decode()


def test_the_chart_has_one_stacked_trace_per_stage_with_drill_down_links(team, week):
    client = browser(team, "manager")
    data = chart(client.get("/reports/"))
    traces = {t["name"]: t for t in data["traces"]}
    assert list(traces) == ["New", "K3 – Busy, call back"]
    today_new = traces["New"]["customdata"][-1]
    assert listed(client, today_new) == {"An"}
    assert listed(client, traces["K3 – Busy, call back"]["customdata"][-1]) == {"Bình"}
    assert traces["New"]["y"] == [1, 1]
    html = client.get("/reports/").content.decode()
    assert 'id="stage-chart-data"' in html and "plotly_click" not in html


def test_the_table_links_list_exactly_the_counted_leads(team, week):
    client = browser(team, "manager")
    table = client.get("/reports/").context["table"]
    today = table["lines"][-1]
    assert [c["count"] for c in today["cells"]] == [1, 1]
    assert today["total"]["count"] == 2
    assert listed(client, today["total"]["url"]) == {"An", "Bình"}
    html = client.get("/reports/").content.decode()
    assert f'href="{today["cells"][1]["url"].replace("&", "&amp;")}"' in html


def test_source_filter_and_grouping_by_week(team, week):
    client = browser(team, "manager")
    response = client.get("/reports/", {"source": "google", "by": "week"})
    table = response.context["table"]
    assert sum(line["total"]["count"] for line in table["lines"]) == 1
    url = table["lines"][0]["total"]["url"]
    assert "source=google" in url
    assert listed(client, url) == {"Cường"}


def test_grouping_by_month_covers_the_range(team, week):
    client = browser(team, "manager")
    today = local_today(team)
    response = client.get(
        "/reports/",
        {
            "by": "month",
            "date_from": (today - timedelta(days=5)).isoformat(),
            "date_to": today.isoformat(),
        },
    )
    lines = response.context["table"]["lines"]
    assert sum(line["total"]["count"] for line in lines) == 3
    assert set().union(*(listed(client, line["total"]["url"]) for line in lines)) == {
        "An",
        "Bình",
        "Cường",
    }


def test_the_funnel_links_each_step(team, week):
    client = browser(team, "manager")
    steps = {s["stage"]: s for s in client.get("/reports/").context["funnel"]}
    assert steps["new"]["count"] == 3
    assert steps["k3"]["count"] == 1
    assert steps["k3"]["drop_off"] == pytest.approx(2 / 3, abs=1e-3)
    html = client.get("/reports/").content.decode()
    assert "66,7 %" in html or "66.7 %" in html
    assert listed(client, steps["k3"]["filter"].page_url()) == {"Bình"}


def test_a_sales_rep_report_counts_only_their_leads(team):
    capture(team, owner="sales", full_name="Mine")
    capture(team, owner="sales2", full_name="Theirs")
    table = team.browser_client("sales").get("/reports/").context["table"]
    assert sum(line["total"]["count"] for line in table["lines"]) == 1


def test_a_reversed_range_is_a_form_error(team, week):
    response = browser(team, "manager").get(
        "/reports/", {"date_from": "2026-05-10", "date_to": "2026-05-01"}
    )
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    assert response.context["table"]["lines"] == []


def test_bad_input_is_a_form_error(team, week):
    response = browser(team, "manager").get("/reports/", {"by": "year", "date_from": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert "No leads were created in this range." not in html  # no range was read


def test_the_report_queries_are_bounded(team, django_assert_max_num_queries):
    for days in range(20):
        with clock.travel(timedelta(days=-days)):
            capture(team, source="facebook" if days % 2 else "google", campaign=f"c{days % 3}")
    client = team.browser_client("manager")
    with django_assert_max_num_queries(12):
        response = client.get("/reports/")
    assert sum(line["total"]["count"] for line in response.context["table"]["lines"]) == 20


def test_plotly_is_served_from_our_static_files(team):
    response = team.browser_client("manager").get("/static/plotly/plotly.min.js")
    assert response.status_code == 200
    assert b"plotly" in b"".join(response.streaming_content)[:2000].lower()


def test_chart_data_is_valid_json_in_the_page(team, week):
    html = browser(team, "manager").get("/reports/").content.decode()
    start = html.index('id="stage-chart-data" type="application/json">') + len(
        'id="stage-chart-data" type="application/json">'
    )
    data = json.loads(html[start : html.index("</script>", start)])
    assert data["traces"][0]["type"] == "bar"
