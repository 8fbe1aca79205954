"""The website form snippet from Settings → Channels, pasted in a page of another site."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from leadloop.intake.models import Touch
from leadloop.intake.services import channel_create
from leadloop.pipeline.models import Lead
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e
CONSENT = "Tôi đồng ý để cửa hàng gọi điện tư vấn."


@pytest.fixture
def shop_site():
    """A stand-in for the shop's own website on another loopback origin."""
    html = {"body": ""}

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"<!doctype html><meta charset=utf-8><body>{html['body']}</body>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield html, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def snippet_from_settings(team, page, log_in, server_url, origin) -> str:
    channel = channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind="form",
        name="Landing",
        settings={"allowed_origins": [origin], "consent_text": CONSENT},
    )
    log_in("admin@acme.test", PASSWORD)
    page.goto(f"{server_url}/settings/channels/{channel.pk}/")
    return page.locator("#form-snippet").inner_text()


def fill(page, phone: str) -> None:
    page.locator("[name=full_name]").fill("Nguyễn Thị Hoa")
    page.locator("[name=phone]").fill(phone)
    page.locator("[name=consent]").check()
    page.get_by_role("button", name="Gửi").click()


def test_the_snippet_sends_in_place_with_the_pages_utm(
    team, browser_page, log_in, server_url, shop_site
):
    html, origin = shop_site
    html["body"] = snippet_from_settings(team, browser_page, log_in, server_url, origin)
    browser_page.goto(f"{origin}/lien-he?utm_source=facebook&utm_campaign=Tet+2027")
    fill(browser_page, "0912 345 678")
    message = browser_page.locator("[data-leadloop-message]")
    expect(message).to_have_text("Cảm ơn bạn! Chúng tôi sẽ liên hệ sớm.")
    assert browser_page.url.startswith(origin)  # the visitor stayed on the shop's page
    lead = Lead.objects.get(workspace=team.workspace)
    assert lead.contact.phone_e164 == "+84912345678"
    assert (lead.utm_source, lead.campaign.name) == ("facebook", "Tet 2027")
    touch = Touch.objects.get(lead=lead)
    assert touch.consent["text"] == CONSENT and touch.consent["given"] is True


def test_the_snippet_works_without_javascript(
    team, browser_page, log_in, server_url, shop_site, chromium
):
    html, origin = shop_site
    html["body"] = snippet_from_settings(team, browser_page, log_in, server_url, origin)
    context = chromium.new_context(java_script_enabled=False, locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(f"{origin}/lien-he")
        fill(page, "0987654321")
        expect(page.get_by_role("heading", name="Cảm ơn bạn!")).to_be_visible()
    finally:
        context.close()
    lead = Lead.objects.get(workspace=team.workspace)
    assert lead.contact.phone_e164 == "+84987654321"
    assert Touch.objects.get(lead=lead).consent["given"] is True
