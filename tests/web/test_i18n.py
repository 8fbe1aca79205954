"""Vietnamese by default; English with ?lang=en, the member's setting, or the browser."""

import pytest

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
