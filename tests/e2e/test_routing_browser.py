"""A manager adds an assignment rule, then asks the tester who would get a lead."""

import os

import pytest
from playwright.sync_api import expect

from leadloop.routing.models import Rule
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e
SCREENSHOTS = os.environ.get("LEADLOOP_SCREENSHOTS", "")  # a folder to keep pictures of the pages


def test_a_manager_adds_a_rule_and_tries_it(team, browser_page, log_in, server_url):
    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    page.goto(f"{server_url}/settings/")
    page.get_by_role("link", name="Assignment rules").click()
    page.locator("details.add summary").click()
    page.get_by_label("Name:", exact=True).fill("Facebook Hà Nội")
    page.get_by_label("Sources").fill("Facebook, Zalo")
    page.get_by_label("Lead fields").first.fill("province = Hà Nội")
    page.get_by_label("Sales Hai").check()
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator(".flash")).to_contain_text("Rule added.")
    expect(page.locator("#rules")).to_contain_text("source: facebook, zalo")
    assert Rule.objects.get(name="Facebook Hà Nội").conditions["fields"] == {"province": ["Hà Nội"]}
    page.evaluate("window.notReloaded = true")
    tester = page.locator("#tester")
    tester.get_by_label("Source").fill("zalo")
    tester.get_by_label("Lead fields").fill("province = ha noi")
    tester.get_by_role("button", name="Try").click()
    expect(page.locator("#preview-answer")).to_contain_text("It would go to Sales Hai")
    expect(page.locator("#preview-answer")).to_contain_text("Facebook Hà Nội")
    assert page.evaluate("window.notReloaded") is True  # swapped in place by HTMX
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/rules.png", full_page=True)
        page.goto(f"{server_url}/settings/sla/")
        page.screenshot(path=f"{SCREENSHOTS}/sla.png", full_page=True)
        page.goto(f"{server_url}/settings/")
        page.locator("#members details summary").first.click()
        page.screenshot(path=f"{SCREENSHOTS}/members.png", full_page=True)
