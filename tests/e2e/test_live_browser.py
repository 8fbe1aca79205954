"""Live notifications in a real browser: the toast, the sound, the title, the queue."""

import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from leadloop.core import clock
from leadloop.core.services import member_update
from leadloop.intake.imports import import_confirm, import_open, import_run
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.sla import timers_fire_due
from tests.conftest import PASSWORD
from tests.notifications.support import bearer, member_key
from tests.web.leads import capture

pytestmark = pytest.mark.e2e
LIVE_S = 5_000  # milliseconds the page may take to show a notification
RED = "rgb(192, 38, 45)"  # --danger

# Counts the beeps: every sound live.js makes starts with an oscillator.
COUNT_BEEPS = """
window.beeps = 0;
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.beeps += 1;
  return createOscillator.call(this);
};
"""


@pytest.fixture
def server_url(asgi_url) -> str:
    """These pages keep an event stream open: uvicorn (ASGI), not the WSGI live server."""
    return asgi_url


def test_a_rep_sees_a_new_lead_arrive_without_reloading(team, browser_page, log_in, server_url):
    member_update(member=team.members["sales2"], actor=team.actors["admin"], active=False)
    page = browser_page
    page.add_init_script(COUNT_BEEPS)
    log_in("sales@acme.test", PASSWORD)
    page.get_by_role("link", name="My queue").click()
    expect(page.locator("#queue")).to_contain_text("Nothing to do now")
    page.evaluate("window.notReloaded = true")
    expect(page).to_have_title("My queue · LeadLoop")

    response = httpx.post(
        f"{server_url}/api/v1/leads",
        json={"full_name": "Nguyễn Văn An", "phone": "0912 345 678", "source": "facebook"},
        headers=bearer(member_key(team, "admin")),
    )
    assert response.status_code == 201
    assert response.json()["owner"]["id"] == team.members["sales"].id
    lead_id = response.json()["id"]

    toast = page.locator("#live .toast")
    expect(toast).to_contain_text("Nguyễn Văn An", timeout=LIVE_S)
    expect(toast.get_by_role("link", name="Open lead")).to_have_attribute(
        "href", f"/leads/{lead_id}/"
    )
    expect(page).to_have_title("(1) My queue · LeadLoop", timeout=LIVE_S)
    expect(page.locator(".bell .badge")).to_have_text("1")
    item = page.locator(f"#queue-lead-{lead_id}")
    expect(item).to_contain_text("Nguyễn Văn An", timeout=LIVE_S)
    expect(item.locator("a.call")).to_have_attribute("href", "tel:+84912345678")
    expect(item.locator(".countdown")).to_contain_text("Due in 14:")
    assert page.evaluate("window.beeps") == 1
    assert page.evaluate("window.notReloaded") is True

    item.get_by_role("button", name="No answer").click()
    expect(page.locator("#queue .flash")).to_contain_text("Call logged")
    expect(page.locator(f"#queue-lead-{lead_id}")).to_contain_text("Call attempt 2")
    assert page.evaluate("window.notReloaded") is True


def test_a_manager_is_told_at_once_when_a_deadline_is_missed(
    team, browser_page, log_in, server_url
):
    lead = capture(team, owner="sales", full_name="Trần Thị Bình")
    page = browser_page
    log_in("manager@acme.test", PASSWORD)
    expect(page).to_have_title("Dashboard · LeadLoop")

    with clock.travel(timedelta(minutes=20)):  # first contact was due after 15 minutes
        timers_fire_due()

    toast = page.locator("#live .toast.kind-sla_breach")
    expect(toast).to_contain_text(f"#{lead.pk}", timeout=LIVE_S)
    expect(page).to_have_title("(1) Dashboard · LeadLoop", timeout=LIVE_S)
    toast.get_by_role("button", name="Close").click()
    expect(toast).to_have_count(0)


def test_a_narrow_phone_screen_shows_the_queue_in_one_column(team, rep_on_a_phone, server_url):
    with clock.travel(timedelta(minutes=-20)):  # its first contact was due 5 minutes ago
        capture(team, owner="sales", full_name="Lê Văn Cường")
    with clock.travel(timedelta(hours=-30, minutes=-15)):  # due 30 hours ago
        capture(team, owner="sales", full_name="Đỗ Thị Hoa")
    page = rep_on_a_phone(375, 740)
    page.goto(f"{server_url}/queue/")
    day_late = page.locator(".queue-item", has_text="Đỗ Thị Hoa")
    expect(day_late.locator(".countdown")).to_have_text("Overdue by 1 d 6 h")  # not 30:00:12
    item = page.locator(".queue-item", has_text="Lê Văn Cường")
    expect(item).to_contain_text("Lê Văn Cường")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing sticks out sideways
    call = item.locator("a.call").bounding_box()
    assert call["width"] > 300 and call["height"] >= 44  # one big tap to call
    expect(item.locator(".countdown")).to_contain_text("Overdue by 5:")
    expect(item).to_have_class(re.compile(r"\boverdue\b"))
    assert item.locator(".countdown").evaluate("e => getComputedStyle(e).color") == RED


@pytest.mark.parametrize("language", ["vi", "en"])
def test_no_page_of_a_rep_sticks_out_sideways_on_a_phone(
    team, rep_on_a_phone, server_url, language
):
    """Vietnamese names are longer: a stage like "K4.2 – Từ chối / không có nhu cầu" wraps in
    its card rather than widen the page."""
    for n in range(12):  # a two-digit unread count on the bell
        lead = capture(team, owner="sales", full_name=f"Nguyễn Thị Phương Thảo {n}")
    lead_change_stage(lead=lead, actor=team.actors["sales"], stage_key="k4-2")
    page = rep_on_a_phone(360, 740)
    page.goto(f"{server_url}/?lang={language}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    for path in ("/", "/leads/", "/queue/", "/reports/", "/leads/new/"):
        page.goto(f"{server_url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path


def test_a_rep_is_told_once_of_the_leads_an_import_gave_them(
    team, browser_page, log_in, server_url, tmp_path
):
    member_update(member=team.members["sales2"], actor=team.actors["admin"], active=False)
    page = browser_page
    log_in("sales@acme.test", PASSWORD)
    rows = ["Họ tên,SĐT", *(f"Khách {n},091{n:07d}" for n in range(5))]
    path = tmp_path / "hoi-cho.csv"
    path.write_text("\r\n".join(rows), encoding="utf-8")
    marketer = team.actors["marketer"]
    job = import_open(
        workspace=team.workspace, actor=marketer, path=path, file_name="hoi-cho.csv", origin="o"
    )
    import_confirm(job=job, actor=marketer, mapping=job.mapping, background=False)
    assert import_run(import_id=job.pk).created == 5

    toast = page.locator("#live .toast")
    expect(toast).to_contain_text("hoi-cho.csv", timeout=LIVE_S)
    expect(toast).to_have_count(1)  # one for the five leads
    expect(toast.get_by_role("link", name="Open my queue")).to_have_attribute("href", "/queue/")
    expect(page.locator(".bell .badge")).to_have_text("1")


def test_on_a_phone_links_are_big_enough_to_tap(team, rep_on_a_phone, server_url):
    capture(team, owner="sales", full_name="Lê Văn Cường")
    page = rep_on_a_phone(390, 844)
    targets = {
        "/leads/": [
            page.get_by_role("link", name="Lê Văn Cường"),
            page.locator(".languages a").first,
            page.locator("a.me"),
        ],
        "/queue/": [page.get_by_role("link", name="Lê Văn Cường")],
        "/reports/": [page.locator("#stage-table td a").first],
    }
    for path, on_the_page in targets.items():
        page.goto(f"{server_url}{path}")
        for target in on_the_page:
            box = target.bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, (path, target, box)
