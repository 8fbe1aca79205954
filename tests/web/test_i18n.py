"""Vietnamese by default; English with ?lang=en, the member's setting, or the browser."""

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from leadloop.core.services import member_update
from tests.web.leads import capture


def text(response) -> str:
    return response.content.decode()


def test_vietnamese_is_the_default(team):
    html = text(team.browser_client("manager").get("/"))
    assert 'lang="vi"' in html
    assert "Tổng quan" in html and "Thêm lead" in html
    assert "Đăng xuất" in html


def test_lang_en_switches_and_sticks(team):
    client = team.browser_client("manager")
    html = text(client.get("/?lang=en"))
    assert 'lang="en"' in html and "Log out" in html and "Đăng xuất" not in html
    assert "Log out" in text(client.get("/leads/"))
    assert "Đăng xuất" in text(client.get("/leads/?lang=vi"))


def test_the_member_setting_wins_over_the_browser(team):
    member_update(member=team.members["sales"], actor=team.actors["admin"], language="en")
    client = team.browser_client("sales")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "vi"
    assert "Log out" in text(client.get("/"))


def test_the_browser_language_is_the_fallback(team):
    client = team.browser_client("sales")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    assert "Log out" in text(client.get("/"))


def test_the_login_page_follows_lang(db):
    from django.test import Client

    assert "Đăng nhập" in text(Client().get("/login/"))
    assert "Log in" in text(Client().get("/login/?lang=en"))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("vi", ["K3 – Bận, gọi lại sau", "Bận, gọi lại sau", "Ghi cuộc gọi", "Dòng thời gian"]),
        ("en", ["K3 – Busy, call back", "Busy, call back", "Log a call", "Timeline"]),
    ],
)
def test_stage_names_and_outcomes_follow_the_language(team, language, expected):
    lead = capture(team, owner="sales")
    html = text(team.browser_client("sales").get(f"/leads/{lead.pk}/?lang={language}"))
    for phrase in expected:
        assert phrase in html


def test_roles_and_categories_are_translated(team):
    html = text(team.browser_client("admin").get("/settings/"))
    for phrase in ["Quản lý", "Kinh doanh", "Đủ điều kiện", "Thành viên"]:
        assert phrase in html


def test_reports_in_vietnamese(team):
    capture(team)
    html = text(team.browser_client("manager").get("/reports/"))
    assert "Báo cáo" in html and "Phễu" in html


def language_links(html: str) -> dict[str, str]:
    nav = html[html.index('<nav class="languages"') :]
    nav = nav[: nav.index("</nav>")]
    return {
        code: nav.split(f'hreflang="{code}"')[0].rsplit('href="', 1)[1].split('"')[0]
        for code in ("vi", "en")
    }


def test_the_switch_keeps_the_page_and_its_filters(team):
    html = text(team.browser_client("manager").get("/leads/?stage=k3&q=Nguy%E1%BB%85n"))
    links = language_links(html)
    assert links["en"] == "/leads/?stage=k3&amp;q=Nguy%E1%BB%85n&amp;lang=en"
    assert links["vi"] == "/leads/?stage=k3&amp;q=Nguy%E1%BB%85n&amp;lang=vi"


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("http://testserver/leads/{pk}/?tab=calls", "/leads/{pk}/?tab=calls&amp;lang=en"),
        ("https://evil.example/leads/", "/?lang=en"),
        ("http://[::1/leads/", "/?lang=en"),
        (None, "/?lang=en"),
    ],
)
def test_after_a_form_error_the_switch_goes_back_to_the_form_s_page(team, referer, expected):
    """A page answering a POST (the note's error) has no address to ask again in the other
    language: a GET there is a 405. The switch goes to the page the form was on."""
    lead = capture(team, owner="sales")
    headers = {"Referer": referer.format(pk=lead.pk)} if referer else {}
    client = team.browser_client("sales")
    response = client.post(f"/leads/{lead.pk}/note/", {"note-body": ""}, headers=headers)
    assert response.status_code == 400  # the lead page again, with the error under the note
    switch = language_links(text(response))["en"]
    assert switch == expected.format(pk=lead.pk)
    target = switch.replace("&amp;", "&")
    assert client.get(target).status_code == 200


@pytest.mark.parametrize(
    ("language", "written"), [("en", "%d/%m/%Y %H:%M"), ("vi", "%H:%M %d/%m/%Y")]
)
def test_dates_are_day_first_in_both_languages(team, language, written):
    """As the reports and filters write them: English pages showed "12/01/2026 7:22 p.m." for
    1 December beside a filter's "01/12/2026"."""
    lead = capture(team, owner="sales")
    created = timezone.localtime(lead.created_at, ZoneInfo(team.workspace.time_zone))
    html = text(team.browser_client("sales").get(f"/leads/{lead.pk}/?lang={language}"))
    assert f"<dd>{created.strftime(written)}</dd>" in html
