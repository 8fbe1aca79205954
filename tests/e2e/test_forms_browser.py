"""Forms in a browser: what cannot be undone asks first (deactivating a member, revoking a
token); a refused form far down a page comes back in view."""

import pytest
from playwright.sync_api import expect

from leadloop.core.models import ApiToken, Member
from leadloop.core.services import token_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def _answer(page, accept: bool) -> list[str]:
    """Answer the next dialog; the list receives its text."""
    said = []

    def answer(dialog):
        said.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)
    return said


def _member_form(page, server_url: str, rep):
    """The admin's settings page, the rep's edit form opened."""
    page.goto(f"{server_url}/settings/")
    row = page.locator("#members tbody tr", has_text=rep.full_name)
    row.locator("summary", has_text="Edit").click()
    return row.locator(f"form[action='/settings/members/{rep.pk}/']")


def test_deactivating_a_member_asks_first_and_cancelling_keeps_them(
    team, browser_page, log_in, server_url
):
    page, rep = browser_page, team.members["sales2"]
    log_in("admin@acme.test", PASSWORD)
    form = _member_form(page, server_url, rep)
    form.get_by_label("Active").uncheck()
    said = _answer(page, accept=False)
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_label("Active")).not_to_be_checked()  # still on the page, unsent
    assert said and said[0].startswith("Deactivate Sales Hai?")
    assert Member.objects.get(pk=rep.pk).active
    said = _answer(page, accept=True)
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Member saved.")
    assert not Member.objects.get(pk=rep.pk).active


def test_saving_a_member_who_stays_active_asks_nothing(team, browser_page, log_in, server_url):
    page, rep = browser_page, team.members["sales2"]
    log_in("admin@acme.test", PASSWORD)
    form = _member_form(page, server_url, rep)
    form.get_by_label("Full name").fill("Sales Hai Mới")
    said = _answer(page, accept=False)
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Member saved.")
    assert said == [] and Member.objects.get(pk=rep.pk).full_name == "Sales Hai Mới"


def test_revoking_a_token_asks_first(team, browser_page, log_in, server_url):
    page = browser_page
    token, _key = token_create(
        workspace=team.workspace, actor=team.actors["admin"], name="Zapier", role="marketer"
    )
    log_in("admin@acme.test", PASSWORD)
    page.goto(f"{server_url}/settings/#tokens")
    said = _answer(page, accept=False)
    page.locator("#tokens tr", has_text="Zapier").get_by_role("button", name="Revoke").click()
    expect(page.locator("#tokens")).to_contain_text("Zapier")
    assert said == ["Revoke the token Zapier? What uses it stops working at once."]
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    _answer(page, accept=True)
    page.locator("#tokens tr", has_text="Zapier").get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_contain_text("Token revoked.")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_a_refused_form_far_down_the_page_comes_back_in_view(
    team, browser_page, log_in, server_url
):
    page = browser_page
    log_in("admin@acme.test", PASSWORD)
    page.goto(f"{server_url}/settings/")
    page.locator("#members details.add summary").click()
    add = page.locator("form[action='/settings/members/']")
    add.get_by_label("E-mail").fill("sales2@acme.test")  # taken
    add.get_by_label("Full name").fill("Ai Đó")
    add.get_by_role("button", name="Add member").click()
    refused = page.locator(".form-errors", has_text="This person is already a member.")
    expect(refused).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0  # the answer opened at the top of the page


def test_a_new_tokens_key_is_copied_with_one_click(team, browser_page, log_in, server_url):
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in("admin@acme.test", PASSWORD)
    page.goto(f"{server_url}/settings/#tokens")
    page.locator("#tokens details.add summary").click()
    create = page.locator("#tokens details.add form")
    create.get_by_label("Name").fill("Zapier")
    create.get_by_role("button", name="Create token").click()
    key = page.locator("#new-token-key").inner_text().strip()
    assert key.startswith("ll_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
