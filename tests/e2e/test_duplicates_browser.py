"""A manager reviews a possible duplicate and merges it, in a real browser."""

import pytest
from playwright.sync_api import expect

from leadloop.contacts.models import Contact
from leadloop.contacts.services import duplicates_find
from leadloop.pipeline.models import Lead
from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in
from tests.web.leads import capture

pytestmark = pytest.mark.e2e


def test_a_manager_merges_a_pair_from_the_queue(team, browser_page, log_in, server_url):
    older = capture(team, full_name="Nguyễn Văn An", phone="0912345678")
    newer = capture(team, full_name="Nguyen Van An", phone="0912345679", email="an@example.com")
    duplicates_find(workspace=team.workspace, contacts=list(Contact.objects.all()))
    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    page.get_by_role("link", name="Duplicates").click()
    expect(page.locator("table.duplicates")).to_contain_text("Similar name, phone one digit apart")
    page.get_by_role("link", name="Merge").click()

    page.get_by_label(f"#{newer.contact_id}: Nguyen Van An").check()
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#merge-preview")
    expect(preview).to_contain_text("Nguyen Van An")
    expect(preview).to_contain_text("an@example.com")
    expect(preview).to_contain_text(f"move to lead #{older.pk}")
    preview.get_by_role("button", name="Merge").click()

    expect(page.locator(".flash")).to_contain_text(
        f"Contact #{newer.contact_id} merged into #{older.contact_id}."
    )
    expect(page.locator("#timeline")).to_contain_text(f"Lead #{newer.pk} merged into this one")
    survivor = Contact.objects.get()
    assert (survivor.pk, survivor.full_name) == (older.contact_id, "Nguyen Van An")
    assert Lead.objects.filter(contact=survivor, is_open=True).get() == older


def test_the_queue_fits_a_phone_and_each_contact_opens_its_leads(team, chromium, server_url):
    long_email = "nguyen.van.an.phong.kinh.doanh.chi.nhanh.mien.nam@congty-xay-dung-example.com.vn"
    capture(team, full_name="Nguyễn Văn An", phone="0912345678", email=long_email)
    other = capture(team, full_name="Nguyen Van An", phone="0912345679")
    duplicates_find(workspace=team.workspace, contacts=list(Contact.objects.all()))
    context = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, server_url, "manager@acme.test", PASSWORD)
        page.goto(f"{server_url}/contacts/duplicates/")
        expect(page.locator("table.duplicates")).to_contain_text(f"contact #{other.contact_id}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        card = page.locator(".contact-card", has_text=f"contact #{other.contact_id}")
        card.get_by_role("link", name="Its leads").click()
        expect(page.locator(".result-count")).to_contain_text("1 lead")
        expect(page.locator("table.leads")).to_contain_text(f"{other.pk}")
    finally:
        context.close()
