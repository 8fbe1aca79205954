"""Login, logout, who may open which page, and what another workspace's id answers."""

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from leadloop.core.services import member_update
from tests.conftest import PASSWORD
from tests.web.leads import browser, capture, routed_to

PAGES = ["/", "/leads/", "/leads/new/", "/reports/"]
ROLES = ["admin", "manager", "marketer", "sales"]


def test_login_page_renders_without_a_session(db):
    response = Client().get("/login/")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_login_with_the_email_leads_to_the_dashboard(team):
    client = Client()
    response = client.post("/login/", {"username": " Sales@ACME.test ", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").status_code == 200


def test_login_follows_next(team):
    response = Client().post(
        "/login/", {"username": "sales@acme.test", "password": PASSWORD, "next": "/reports/"}
    )
    assert response.url == "/reports/"


@pytest.mark.parametrize(
    ("language", "told"),
    [
        ("en", "The e-mail address or the password is wrong"),
        ("vi", "Email hoặc mật khẩu không đúng"),
    ],
)
def test_wrong_password_shows_the_form_again_naming_the_e_mail(team, language, told):
    response = Client(HTTP_ACCEPT_LANGUAGE=language).post(
        "/login/", {"username": "sales@acme.test", "password": "wrong"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert told in html and "Tên đăng nhập" not in html and "correct username" not in html


def test_logout_is_a_post_and_ends_the_session(team):
    client = team.browser_client("sales")
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.url == "/login/"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("path", [*PAGES, "/settings/", "/leads/1/"])
def test_pages_need_a_login(db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response.url == f"/login/?next={path}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", PAGES)
def test_every_role_opens_the_everyday_pages(team, role, path):
    assert team.browser_client(role).get(path).status_code == 200


def test_a_user_without_membership_gets_a_clear_page(db):
    user = get_user_model().objects.create_user("lost@example.test", "lost@example.test", PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    response = client.get("/leads/")
    assert response.status_code == 403
    assert "not an active member of any workspace" in response.content.decode()


def test_a_deactivated_member_gets_the_same_page(team):
    member_update(member=team.members["sales"], actor=team.actors["admin"], active=False)
    response = browser(team, "sales").get("/")
    assert response.status_code == 403
    assert "not an active member" in response.content.decode()


def test_another_workspace_lead_is_not_found(team, other_team):
    theirs = capture(other_team, owner="sales")
    for role in ROLES:
        assert team.browser_client(role).get(f"/leads/{theirs.pk}/").status_code == 404


def test_a_sales_rep_does_not_see_a_colleague_lead(team):
    lead = routed_to(team, "sales2")
    assert team.browser_client("sales").get(f"/leads/{lead.pk}/").status_code == 404
    assert team.browser_client("sales2").get(f"/leads/{lead.pk}/").status_code == 200


def test_posts_need_the_csrf_token(team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.members["sales"].user)
    lead = capture(team, owner="sales")
    response = client.post(f"/leads/{lead.pk}/note/", {"note-body": "hi"})
    assert response.status_code == 403
    assert not lead.activities.exists()


def test_pages_are_in_the_members_workspace_time_zone(team):
    team.workspace.time_zone = "UTC"
    team.workspace.save()
    lead = capture(team, owner="sales")
    html = team.browser_client("sales").get(f"/leads/{lead.pk}/").content.decode()
    in_utc = lead.created_at.astimezone(ZoneInfo("UTC")).strftime("%H:%M")
    in_hanoi = lead.created_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M")
    assert in_utc in html
    assert in_hanoi not in html


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/leads/99999999999999999999999/"),
        ("post", "/leads/99999999999999999999999/stage/"),
        ("post", "/settings/members/99999999999999999999999/"),
        ("post", "/settings/tokens/99999999999999999999999/revoke/"),
        ("post", "/settings/stages/no-such-stage/"),
    ],
)
def test_unknown_or_out_of_range_ids_are_not_found(team, method, path):
    assert getattr(team.browser_client("admin"), method)(path).status_code == 404


def test_odd_list_parameters_do_not_break_the_page(team):
    capture(team)
    client = team.browser_client("manager")
    for query in (
        {"page": "abc"},
        {"page": "999"},
        {"owner": "12345678901234567890123"},
        {"q": "x" * 300},
        {"open": "maybe"},
    ):
        assert client.get("/leads/", query).status_code == 200
