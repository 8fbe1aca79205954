"""The data-quality report: numbers per source and campaign, and drill-downs that list exactly
the counted leads, through the API, the page and the lead list."""

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from leadloop.contacts.models import Contact
from leadloop.contacts.services import duplicates_find
from leadloop.pipeline.models import Lead
from leadloop.pipeline.services import lead_change_stage
from tests.core.support import assert_error, capture, phone
from tests.reports.test_reports import lead_ids


@pytest.fixture
def dataset(team):
    """Leads from two sources and campaigns, with invalid, duplicate and test leads known."""
    admin = team.actors["admin"]
    made = {}

    def add(tag, **fields):
        made[tag] = capture(team, **fields).lead

    add("fb_ok", full_name="Lê Văn A", phone=phone(1), source="facebook", campaign="Tết")
    add("fb_bad", full_name="Lê Văn B", phone="123", source="facebook", campaign="Tết")
    add("fb_bad_mail", phone="0999", email="x@", source="facebook")  # both invalid
    add("fb_phone_bad_mail_ok", phone="12", email="ok@example.com", source="facebook")  # valid
    add("gg_first", full_name="Trần C", phone=phone(2), source="google", campaign="Tết")
    lead_change_stage(lead=made["gg_first"], actor=admin, stage_key="k4-2")
    add("gg_returning", full_name="Trần C", phone=phone(2), source="google")  # returning
    add("gg_test", full_name="Test", phone=phone(3), source="google", is_test=True)
    add("web_a", full_name="Nguyễn Văn An", phone="0912345678", source="website")
    add("web_b", full_name="Nguyen Van An", phone="0912345679", source="website", campaign="Tết")
    add("nosource", full_name="Không nguồn", phone=phone(4))
    duplicates_find(workspace=team.workspace, contacts=list(Contact.objects.all()))  # web_a/b
    return made


def expected(made, tags):
    return {made[t].pk for t in tags}


def quality_rows(api, **params) -> dict:
    answer = api.get("/reports/quality", **params)
    assert answer.status_code == 200, answer.content
    return {row["key"]: row for row in answer.json()["rows"]}


def test_numbers_per_source(team, dataset):
    rows = quality_rows(team.api("manager"))
    fb, gg, web, none, total = (rows[k] for k in ("facebook", "google", "website", "-", ""))
    assert (fb["leads"], fb["invalid"], fb["duplicate"], fb["test"]) == (4, 2, 0, 0)
    assert fb["invalid_rate"] == 0.5
    assert (gg["leads"], gg["invalid"], gg["duplicate"], gg["test"]) == (3, 0, 1, 1)
    assert gg["test_rate"] == round(1 / 3, 4)
    assert (web["leads"], web["duplicate"], web["duplicate_rate"]) == (2, 2, 1.0)
    assert (none["leads"], none["name"]) == (1, "")
    assert (total["leads"], total["invalid"], total["duplicate"], total["test"]) == (10, 2, 3, 1)


def test_every_drill_down_lists_exactly_the_counted_leads(team, dataset):
    api = team.api("admin")
    for by in ("source", "campaign"):
        for row in quality_rows(api, by=by).values():
            for part in ("leads", "invalid", "duplicate", "test"):
                total, ids = lead_ids(api, row[f"{part}_url"])
                assert total == len(ids) == row[part], (by, row["key"], part)
    rows = quality_rows(api)
    _total, ids = lead_ids(api, rows["facebook"]["invalid_url"])
    assert ids == expected(dataset, ["fb_bad", "fb_bad_mail"])
    _total, ids = lead_ids(api, rows["google"]["duplicate_url"])
    assert ids == expected(dataset, ["gg_returning"])
    _total, ids = lead_ids(api, rows["-"]["leads_url"])
    assert ids == expected(dataset, ["nosource"])


def test_by_campaign(team, dataset):
    rows = quality_rows(team.api("admin"), by="campaign")
    tet = rows["tet"]
    assert (tet["leads"], tet["invalid"], tet["duplicate"]) == (4, 1, 1)
    assert rows["-"]["leads"] == 6


def test_page_links_open_lead_lists_with_the_same_counts(team, dataset):
    client = team.browser_client("manager")
    page = client.get("/reports/quality/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    links = re.findall(r'<a href="(/leads/\?[^"]*)">(\d+)</a>', html)
    assert len(links) == 4 * (4 + 1) + 4 * (2 + 1)  # 4 numbers per row, sources and campaigns
    for url, count in links:
        listed = client.get(unescape(url), HTTP_ACCEPT_LANGUAGE="en")
        assert listed.status_code == 200, url
        found = re.search(r'class="result-count">(\d+) lead', listed.content.decode())
        assert found and found.group(1) == count, (url, count)
        query = dict(parse_qsl(urlsplit(unescape(url)).query))
        assert set(query) <= {
            "source",
            "campaign",
            "created_from",
            "created_to",
            "invalid",
            "duplicate",
            "test",
        }


def test_sales_rep_counts_only_own_leads(team, dataset):
    Lead.objects.filter(pk=dataset["fb_bad"].pk).update(owner=team.members["sales"])
    Lead.objects.exclude(pk=dataset["fb_bad"].pk).update(owner=team.members["sales2"])
    rows = quality_rows(team.api("sales"))
    assert (rows[""]["leads"], rows[""]["invalid"]) == (1, 1)


def test_other_workspace_sees_nothing_and_bad_input_is_422(team, other_team, dataset):
    assert quality_rows(other_team.api("admin"))[""]["leads"] == 0
    assert_error(team.api("admin").get("/reports/quality", by="stage"), 422)
    assert_error(team.api("admin").get("/reports/quality", **{"from": "2026-13-01"}), 422)
    page = team.browser_client("admin").get(
        "/reports/quality/?date_from=2026-03-01&date_to=2026-01-01"
    )
    assert page.status_code == 400
