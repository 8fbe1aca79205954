"""A real Chromium (Debian's) against pytest-django's live server."""

import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; the test itself still talks to the
# database synchronously (creating data through the services), which Django would refuse.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def server_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module: Playwright's event loop must not outlive the e2e modules,
    or the database calls of later tests in this process count as made from an async context."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, server_url: str, email: str, password: str) -> None:
    page.goto(f"{server_url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server_url}/")


@pytest.fixture
def log_in(browser_page, server_url):
    def as_member(email: str, password: str) -> None:
        sign_in(browser_page, server_url, email, password)

    return as_member


@pytest.fixture
def rep_on_a_phone(chromium, server_url):
    """`(width, height) -> page`: the sales rep signed in on a phone-sized screen."""
    contexts = []

    def on_screen(width: int, height: int):
        context = chromium.new_context(locale="en-US", viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, server_url, "sales@acme.test", PASSWORD)
        return page

    yield on_screen
    for context in contexts:
        context.close()
