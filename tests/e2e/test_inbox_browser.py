"""An admin finds a failed webhook delivery in the inbox, reads it and replays it."""

import pytest
from playwright.sync_api import expect

from leadloop.intake.models import Delivery
from leadloop.pipeline.models import Lead
from tests.conftest import PASSWORD
from tests.core.support import immediate_huey
from tests.intake.hooks.support import graph_api, make_channels
from tests.intake.hooks.test_inbox import failed_delivery

pytestmark = pytest.mark.e2e


@pytest.fixture
def graph(settings):
    with immediate_huey(), graph_api(settings) as api:
        yield api


def test_an_admin_replays_a_failed_delivery(team, graph, browser_page, log_in, server_url):
    make_channels(team)
    failed = failed_delivery(graph, leadgen_id=4242)  # the Graph API was down; it is back now
    page = browser_page
    log_in("admin@acme.test", PASSWORD)
    page.goto(f"{server_url}/settings/")
    page.get_by_role("link", name="Webhook inbox").click()
    page.get_by_role("link", name="Failed (1)").click()
    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Graph API")
    rows.get_by_role("link", name=f"#{failed.pk}").click()
    expect(page.locator("#raw-body")).to_contain_text('"leadgen_id": 4242')
    page.get_by_role("button", name="Replay").click()
    expect(page.locator(".flash")).to_contain_text("being processed again")
    expect(page.locator(".tag")).to_have_text("Done")
    expect(page.locator("table.outcomes")).to_contain_text("New lead")
    assert Delivery.objects.get().status == "done"
    assert Lead.objects.get().contact.full_name == "Bùi Thị Thu"
