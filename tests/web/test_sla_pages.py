"""/reports/sla/, the SLA box of the lead page and the lead list's SLA drill-down filters."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.core.support import at
from tests.reports.test_sla_report import D1, D3, NOW, make_dataset
from tests.web.leads import browser

PERIOD = {"date_from": str(D1), "date_to": str(D3)}


@pytest.fixture
def dataset(team):
    return make_dataset(team)


def get(client, url: str, params=None):
    with at(NOW):
        return client.get(url, params)


def listed_count(client, url: str) -> int:
    found = re.search(r'class="result-count">(\d+) lead', get(client, url).content.decode())
    assert found, url
    return int(found.group(1))


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "sales"])
def test_the_page_renders_for_every_role_with_bounded_queries(team, dataset, role):
    client = browser(team, role)
    get(client, "/reports/sla/", PERIOD)  # the session's first request stores the language
    with CaptureQueriesContext(connection) as queries:
        response = get(client, "/reports/sla/", PERIOD)
    assert response.status_code == 200
    assert len(queries) <= 10, [q["sql"][:80] for q in queries]
    rows = response.context["rows"]
    html = response.content.decode()
    assert "SLA compliance" in html and 'id="sla-table"' in html and 'id="breach-log"' in html
    if role == "sales":
        assert [r["label"] for r in rows] == ["Sales Một", "Total"]
        assert "Sales Hai" not in html
    else:
        assert [r["label"] for r in rows] == [
            "Sales Hai",
            "Sales Một",
            "No rep (assignment)",
            "Total",
        ]


def test_more_data_does_not_mean_more_queries(team, dataset):
    client = browser(team, "manager")
    get(client, "/reports/sla/")

    def count(params) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert get(client, "/reports/sla/", params).status_code == 200
        return len(queries)

    one_day = {"date_from": str(D1), "date_to": str(D1), "by": "day"}
    assert count({**PERIOD, "by": "day"}) == count(one_day)


@pytest.mark.parametrize("by", ["rep", "team", "day"])
def test_every_number_links_to_exactly_its_leads(team, dataset, by):
    client = browser(team, "manager")
    response = get(client, "/reports/sla/", {**PERIOD, "by": by})
    html = unescape(response.content.decode())
    checked, told_apart = 0, 0
    for row in response.context["rows"]:
        for block in [row, *row["kinds"].values()]:
            for state in ("due", "met", "breached") if block["due"] else ():
                url, leads = block["filters"][state].page_url(), block["lead_counts"][state]
                shown = block[state] if block is row or state != "met" else None
                if shown is not None:
                    assert f'<a href="{url}">{shown}{_leads_beside(shown, leads)}</a>' in html
                    told_apart += shown != leads
                assert listed_count(client, url) == leads, url
                checked += 1
    assert checked >= 18
    assert told_apart  # binh's two breached call attempts are one lead


def _leads_beside(obligations: int, leads: int) -> str:
    """What a count of obligations shows of its leads: nothing when they are as many."""
    if obligations == leads:
        return ""
    return f' <small class="leads-of">{leads} lead{"" if leads == 1 else "s"}</small>'


def test_the_period_picker_and_grouping(team, dataset):
    client = browser(team, "admin")
    by_day = get(client, "/reports/sla/", {**PERIOD, "by": "day"})
    assert [r["label"] for r in by_day.context["rows"]] == ["10/03/2026", "11/03/2026", "Total"]
    by_team = get(client, "/reports/sla/", {**PERIOD, "by": "team"})
    assert [r["label"] for r in by_team.context["rows"]] == [
        "Sales",
        "Telesales",
        "No team",
        "Total",
    ]
    only_d1 = get(client, "/reports/sla/", {"date_from": str(D1), "date_to": str(D1)})
    assert only_d1.context["rows"][-1]["due"] == 4
    default = get(client, "/reports/sla/")  # the last 30 days to today
    assert default.context["form"].cleaned_data["by"] == "rep"
    assert default.context["rows"][-1]["due"] == 9  # the early lead's breach too
    refused = get(client, "/reports/sla/", {"date_from": str(D3), "date_to": str(D1)})
    assert refused.status_code == 400
    assert get(client, "/reports/sla/", {"by": "week"}).status_code == 400


def test_the_breach_log_on_the_page(team, dataset):
    response = get(browser(team, "manager"), "/reports/sla/", PERIOD)
    breaches = list(response.context["breaches"])
    assert [(t.lead.contact.full_name, t.kind) for t in breaches] == [
        ("phuong", "assign"),
        ("dung", "first_contact"),
        ("binh", "attempt"),
        ("binh", "attempt"),
        ("binh", "first_contact"),
    ]
    html = response.content.decode()
    assert f'href="/leads/{dataset["dung"].pk}/"' in html
    assert "15 min" in html and "25 min" in html and "1 d 12 h" in html and "not yet" in html


def test_the_reports_index_links_to_the_sla_report(team):
    assert 'href="/reports/sla/"' in browser(team, "marketer").get("/reports/").content.decode()


def test_the_page_in_vietnamese(team, dataset):
    html = get(browser(team, "manager", "vi"), "/reports/sla/", PERIOD).content.decode()
    assert "Tuân thủ SLA" in html and "Nhật ký vi phạm" in html and "25 phút" in html
    assert "Giao lead" in html and "Lần gọi" in html


def test_the_lead_page_shows_each_obligation(team, dataset):
    html = get(browser(team, "sales"), f"/leads/{dataset['binh'].pk}/").content.decode()
    box = html[html.index('id="sla"') : html.index('id="touches"')]
    assert box.count("<li ") == 3
    assert "First contact" in box and "Call attempt #2" in box and "Call attempt #3" in box
    assert (
        "Breached · 25 min" in box and "Breached · 10 min" in box and "Breached · 1 d 12 h" in box
    )
    phuong = get(browser(team, "admin"), f"/leads/{dataset['phuong'].pk}/").content.decode()
    box = phuong[phuong.index('id="sla"') : phuong.index('id="touches"')]
    assert "Assignment" in box and "Breached · 15 min" in box and "Met on time" in box
    em = get(browser(team, "sales2", "vi"), f"/leads/{dataset['em'].pk}/").content.decode()
    assert "Chưa đến hạn" in em[em.index('id="sla"') : em.index('id="touches"')]


def test_the_lead_list_shows_the_drill_down_and_can_drop_it(team, dataset):
    client = browser(team, "manager")
    mot = team.members["sales"].id
    params = {"sla": "breached", "sla_kind": "attempt", "sla_member": mot, **PERIOD}
    params = {"sla_from": str(D1), "sla_to": str(D3), **params}
    response = get(client, "/leads/", params)
    assert {lead.contact.full_name for lead in response.context["page"]} == {"binh"}
    html = response.content.decode()
    assert "SLA breached: Call attempt, owed by Sales Một, due 10/03/2026–12/03/2026" in html
    assert 'name="sla_member"' in html  # kept when the visible filters change
    remove = re.search(r'<a href="(\?[^"]*)">Remove</a>', html)
    assert remove and "sla" not in unescape(remove.group(1))
    nobody = get(client, "/leads/", {"sla": "breached", "sla_member": "none"})
    assert "owed by nobody (assignment)" in nobody.content.decode()
    refused = get(client, "/leads/", {"sla": "late"})
    assert "Some filters are not valid" in refused.content.decode()
