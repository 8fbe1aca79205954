"""The two journeys that matter most, in a real browser."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from leadloop.core import clock
from leadloop.pipeline.services import lead_change_stage
from tests.conftest import PASSWORD
from tests.web.leads import capture

pytestmark = pytest.mark.e2e
K3 = "K3 – Busy, call back"


def test_a_rep_logs_a_call_and_changes_the_stage(team, browser_page, log_in):
    lead = capture(team, owner="sales", full_name="Nguyễn Văn An")
    page = browser_page
    log_in("sales@acme.test", PASSWORD)
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_role("link", name="Nguyễn Văn An").click()

    page.get_by_role("button", name="Busy, call back").click()
    expect(page.locator(".flash")).to_contain_text(f"Suggested stage: {K3}")
    expect(page.locator("#id_stage-stage")).to_have_value("k3")
    page.get_by_role("button", name="Change stage").click()

    expect(page.locator(".flash")).to_contain_text(f"Stage changed to {K3}")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text(f"Stage changed from New to {K3}")
    expect(timeline.locator(".kind-activity")).to_contain_text("Call: Busy, call back")
    lead.refresh_from_db()
    assert (lead.stage.key, lead.call_attempts) == ("k3", 1)


def test_a_manager_clicks_a_bar_and_sees_exactly_its_leads(team, browser_page, log_in, server_url):
    for name in ("An", "Bình", "Cường"):
        capture(team, full_name=name)
    for name in ("Dũng", "Hà"):
        lead_change_stage(
            lead=capture(team, full_name=name), actor=team.actors["manager"], stage_key="k3"
        )
    with clock.travel(timedelta(days=-2)):
        older = capture(team, full_name="Lan")
    lead_change_stage(lead=older, actor=team.actors["manager"], stage_key="k3")

    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    page.goto(f"{server_url}/reports/")
    expect(page.locator("#stage-chart[data-ready=true]")).to_be_attached()
    names = page.evaluate("document.getElementById('stage-chart').data.map(t => t.name)")
    today_k3 = (
        page.locator("#stage-chart .barlayer .trace")
        .nth(names.index(K3))
        .locator(".point path")
        .last
    )
    box = today_k3.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)

    page.wait_for_url("**/leads/?**")
    assert "stage=k3" in page.url
    rows = page.locator("#lead-results tbody td.name")
    expect(rows).to_have_count(2)
    assert set(rows.all_inner_texts()) == {"Dũng", "Hà"}


def test_the_filters_update_the_list_in_place(team, browser_page, log_in, server_url):
    for name in ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"):
        capture(team, full_name=name)
    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    page.goto(f"{server_url}/leads/")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Search").fill("nguyen van an")

    expect(page.locator("#lead-results tbody td.name")).to_have_count(1)
    expect(page.locator("#lead-results td.name")).to_have_text("Nguyễn Văn An")
    expect(page).to_have_url(f"{server_url}/leads/?q=nguyen+van+an")
    assert page.evaluate("window.notReloaded") is True  # swapped by HTMX, not a page load


def test_a_search_sent_twice_is_one_step_back(team, browser_page, log_in, server_url):
    """Typing then Enter sends the search by its delay and by the form: one history entry."""
    capture(team, full_name="Nguyễn Văn An")
    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    page.goto(f"{server_url}/leads/")
    searches = []
    page.on("response", lambda r: searches.append(r.url) if "q=an" in r.url else None)
    page.get_by_label("Search").fill("an")
    page.get_by_label("Search").press("Enter")
    expect(page).to_have_url(f"{server_url}/leads/?q=an")
    page.wait_for_timeout(1000)  # the search box's 400 ms delay has run out
    assert len(searches) >= 2

    page.go_back()
    expect(page).to_have_url(f"{server_url}/leads/")
    expect(page.get_by_label("Search")).to_have_value("")


def test_back_shows_the_filters_of_the_list_it_shows(team, browser_page, log_in, server_url):
    """Back to a filtered list restores its controls too, and no lead list is kept in the
    browser's storage (HTMX's history snapshots live in localStorage)."""
    capture(team, full_name="Nguyễn Văn An")
    lead_change_stage(
        lead=capture(team, full_name="Trần Thị Bình"), actor=team.actors["manager"], stage_key="k3"
    )
    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    page.goto(f"{server_url}/leads/")
    page.get_by_label("Stage").select_option("k3")
    expect(page).to_have_url(f"{server_url}/leads/?stage=k3")
    page.get_by_label("Search").fill("binh")
    expect(page.locator("#lead-results td.name")).to_have_text("Trần Thị Bình")
    expect(page).to_have_url(f"{server_url}/leads/?q=binh&stage=k3")

    page.go_back()
    expect(page).to_have_url(f"{server_url}/leads/?stage=k3")
    expect(page.get_by_label("Stage")).to_have_value("k3")
    expect(page.get_by_label("Search")).to_have_value("")
    expect(page.locator("#lead-results td.name")).to_have_text("Trần Thị Bình")
    snapshots = page.evaluate("localStorage.getItem('htmx-history-cache')")
    assert snapshots is None or "Trần Thị Bình" not in snapshots
